package itest

import (
	"log/slog"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestAttachmentsReachTheCloud: an import's attachData is kept with the bill (the version marker
// is written from the delivery's signal) and reaches the cloud with its invoice at 30 and 60;
// the history replays.
func TestAttachmentsReachTheCloud(t *testing.T) {
	s := newStack(t, 25, lenient)
	manual := false
	run := s.start(input("AT-1", workflows.Options{Approvals: []string{}, AutoSubmit: &manual}))
	id := run.GetID()
	s.post("/__sim/collect", map[string]any{"eventCode": s.collectURL(id).EventCode,
		"invoices":   []map[string]any{{"serialNo": "AT-1-S1", "invoiceAmount": "10.00", "totalTaxAmount": "1.30", "totalAmount": "11.30"}},
		"attachData": []map[string]any{{"attachUrl": "https://img.example/a/AT-1.jpg", "attachType": "jpg", "attachNo": "1", "attachName": "receipt"}},
	}, nil)
	waitFor(t, "the invoice bound", func() bool { return state(t, id).InvoiceCount == 1 })
	holds := func(status string) {
		t.Helper()
		b, _ := s.sim.Bill("OA", "AT-1")
		if len(b.Invoices) != 1 || b.Invoices[0].Status != status || len(b.Invoices[0].AttachData) != 1 ||
			b.Invoices[0].AttachData[0].AttachName != "receipt" {
			t.Errorf("the cloud holds %+v, want status %s with the attachment", b.Invoices, status)
		}
	}
	holds(invoicecloud.StatusInUse)
	mustUpdate(t, id, workflows.UpdateSubmit, workflows.SubmitRequest{By: "u1"})
	waitStage(t, id, workflows.StageAwaitingVoucher)
	holds(invoicecloud.StatusUsed)
	if final := book(t, run); len(final.Bill.AttachData) != 1 {
		t.Fatalf("completed with attachments %+v, want 1", final.Bill.AttachData)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.BillWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeductionBatchWorkflow, workflow.RegisterOptions{Name: calls.DeductionWorkflowName})
	if err := r.ReplayWorkflowExecution(ctxT(t), tc.WorkflowService(), sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		server.GetDefaultNamespace(), workflow.Execution{ID: id, RunID: run.GetRunID()}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	record(t, id, "attachments_kept")
}
