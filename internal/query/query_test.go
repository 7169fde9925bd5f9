package query

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// queryClient answers QueryWorkflow with its errors in turn, then success.
type queryClient struct {
	client.Client
	errs  []error
	calls int
}

func (q *queryClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	q.calls++
	if len(q.errs) > 0 {
		err := q.errs[0]
		q.errs = q.errs[1:]
		return nil, err
	}
	return client.NewValue(nil), nil
}

var raceErr = serviceerror.NewQueryFailed("[TMPRL1100] invalid state transition: attempt to handleInitiatedEvent, CommandType: Activity")

func TestQueryAsksAgainAfterAReplayRace(t *testing.T) {
	q := &queryClient{errs: []error{raceErr, raceErr}}
	if _, err := Workflow(context.Background(), q, "bill:OA:1", "state"); err != nil || q.calls != 3 {
		t.Fatalf("after two replay races: %v, %d calls; want success on the third", err, q.calls)
	}
}

func TestQueryGivesUpOnAWorkflowThatAlwaysDiverges(t *testing.T) {
	q := &queryClient{errs: []error{raceErr, raceErr, raceErr, raceErr, raceErr}}
	_, err := Workflow(context.Background(), q, "bill:OA:1", "state")
	if !errors.Is(err, raceErr) || q.calls != queryAttempts {
		t.Fatalf("got %v after %d calls; want the race error after %d", err, q.calls, queryAttempts)
	}
}

func TestQueryReturnsOtherErrorsAtOnce(t *testing.T) {
	for _, e := range []error{serviceerror.NewNotFound("no workflow"), serviceerror.NewQueryFailed("unknown queryType state")} {
		q := &queryClient{errs: []error{e}}
		if _, err := Workflow(context.Background(), q, "bill:OA:1", "state"); !errors.Is(err, e) || q.calls != 1 {
			t.Fatalf("%v: got %v after %d calls; want it at once", e, err, q.calls)
		}
	}
}
