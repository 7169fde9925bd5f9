// Package query asks a workflow's query handler, and asks again when the answer failed on a
// replay race (Query). The API's bill reads and the webhook registry's reads go through it.
package query

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// queryAttempts bounds how often Query asks again after a replay race; a workflow whose code
// really diverged from its history fails every attempt, and the last error is returned.
const queryAttempts = 4

// Workflow asks the latest run of a workflow's query handler. A worker without the workflow in its
// cache answers a query by replaying the history, and when a workflow task completes during
// that replay the query can fail with the SDK's illegal-state error ([TMPRL1100]) though the
// workflow is sound: the task told the worker where replay ended before the history it read
// had grown. It happens right after a worker takes a bill over (a restart, a hand-back), so
// Workflow asks again, a little later, before it returns that error.
func Workflow(ctx context.Context, c client.Client, workflowID, name string, args ...any) (converter.EncodedValue, error) {
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := c.QueryWorkflow(ctx, workflowID, "", name, args...)
		if err == nil || attempt == queryAttempts || !replayRace(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 4
	}
}

// replayRace reports whether err is a query failed on the SDK's illegal-state error.
func replayRace(err error) bool {
	var qf *serviceerror.QueryFailed
	return errors.As(err, &qf) && strings.Contains(qf.Message, "[TMPRL1100]")
}
