package itest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestCancelThatDuesAContinueAsNew: a cancel from Temporal whose own events take the bill's
// history to its limit is not lost to the continue-as-new they make due. A reference bill gives
// the history length of a bill waiting for its supervisor; the bill under test gets a limit just
// above it, so the cancel's events (requested, task scheduled and started) cross it. The bill ends
// cancelled and the cloud holds nothing for it.
func TestCancelThatDuesAContinueAsNew(t *testing.T) {
	s := newStack(t, 29, lenient)
	waiting := func(billID string, limit int) (string, int64) {
		t.Helper()
		run := s.start(input(billID, workflows.Options{Approvals: []string{"supervisor"}, HistoryLimit: limit}))
		s.collect(s.collectURL(run.GetID()).EventCode, 1)
		waitStage(t, run.GetID(), workflows.AwaitingStage("supervisor"))
		time.Sleep(time.Second) // the bind's last task is written
		d, err := tc.DescribeWorkflowExecution(ctxT(t), run.GetID(), "")
		if err != nil {
			t.Fatal(err)
		}
		return run.GetID(), d.GetWorkflowExecutionInfo().GetHistoryLength()
	}
	_, n := waiting("CAN-REF", 0)
	limit := int(n) + 2
	// The cancel's task sees three more events than the quiet bill (requested, task scheduled and
	// started); the bill's own count may differ from the reference's by a task. Lined up when the
	// limit is past the quiet bill and within the cancel's task.
	var id string
	for try := range 8 {
		var got int64
		id, got = waiting(fmt.Sprintf("CAN-CANCEL-%d", try), limit)
		if got < int64(limit) && int64(limit) <= got+3 {
			break
		}
		t.Logf("bill %s waits with %d events (the reference %d, the limit %d): not lined up, another", id, got, n, limit)
		_ = tcCancel(t, id)
		id = ""
	}
	if id == "" {
		t.Fatalf("no bill waited with its history just under the limit %d", limit)
	}
	if err := tcCancel(t, id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	err := tc.GetWorkflow(ctx, id, "").Get(ctx, nil) // follows a continue-as-new
	var cancelled *temporal.CanceledError
	if !errors.As(err, &cancelled) {
		t.Fatalf("the bill after the cancel: %v, want cancelled", err)
	}
	s.cloudHolds(t, strings.TrimPrefix(id, "bill:OA:"), nil, invoicecloud.StatusUnused)
	record(t, id, "cancel_due_with_continue_as_new")
}
