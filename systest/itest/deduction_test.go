package itest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// Both deduction modes on the real server: `immediate` selects the bill's special-VAT invoices
// through the deduction API; `batch` hands them (signal-with-start) to the enterprise's batch
// workflow for the voucher's period, which submits them. Ordinary invoices are never selected.
func TestDeductionModes(t *testing.T) {
	for i, mode := range []string{workflows.DeductionImmediate, workflows.DeductionBatch} {
		t.Run(mode, func(t *testing.T) {
			s := newStack(t, int64(40+i), lenient)
			billID := "DD-" + mode
			in := input(billID, workflows.Options{Approvals: []string{}, Deduction: mode})
			run := s.start(in)
			id := run.GetID()

			var got struct {
				Delivered []struct {
					SerialNo    string `json:"serialNo"`
					InvoiceType string `json:"invoiceType"`
				} `json:"delivered"`
			}
			s.post("/__sim/collect", map[string]any{"eventCode": s.collectURL(id).EventCode, "invoices": []map[string]any{
				{"invoiceType": "4", "invoiceAmount": "1000.00", "totalTaxAmount": "130.00", "totalAmount": "1130.00", "taxRate": "13%"},
				{"invoiceType": "26", "invoiceAmount": "200.00", "totalTaxAmount": "12.00", "totalAmount": "212.00", "taxRate": "6%"},
			}}, &got)
			if len(got.Delivered) != 2 {
				t.Fatalf("delivered %+v, want 2 invoices", got.Delivered)
			}
			special, ordinary := got.Delivered[0].SerialNo, got.Delivered[1].SerialNo

			waitStage(t, id, workflows.StageAwaitingVoucher)
			// This month's voucher: the batch workflow of an open period keeps running (and continues as new).
			v := voucher()
			v.AccountDate = time.Now().UTC().Format(time.DateOnly)
			mustUpdate(t, id, workflows.UpdateVoucher, v)
			var final workflows.BillState
			if err := run.Get(ctxT(t), &final); err != nil {
				t.Fatalf("result: %v", err)
			}
			if final.Stage != workflows.StageCompleted || final.Deduction == nil {
				t.Fatalf("final stage %s, deduction %+v", final.Stage, final.Deduction)
			}
			if !slices.Equal(final.Deduction.SerialNos, []string{special}) {
				t.Errorf("deduction serials %v, want only the special-VAT invoice %s", final.Deduction.SerialNos, special)
			}
			if mode == workflows.DeductionBatch {
				want := calls.DeductionWorkflowID(in.BillTaxNo, v.AccountDate[:7])
				if final.Deduction.BatchWorkflowID != want {
					t.Fatalf("batch workflow %q, want %q", final.Deduction.BatchWorkflowID, want)
				}
				// Its first run submits the batch and, at ContinueAfter 2, continues as new right after
				// (both runs join the replay tests). The first run's state, read once it has ended,
				// records the batch: the batch workflow, not the bill, submitted it.
				var first string
				waitFor(t, "the batch workflow to continue as new", func() bool {
					resp, err := tc.ListWorkflow(ctxT(t), &workflowservice.ListWorkflowExecutionsRequest{
						Query: fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'ContinuedAsNew'", want)})
					if err != nil || len(resp.Executions) == 0 {
						return false
					}
					first = resp.Executions[0].Execution.RunId
					return true
				})
				var bs workflows.DeductionBatchState
				q, err := tc.QueryWorkflow(ctxT(t), want, first, workflows.QueryState)
				if err == nil {
					err = q.Get(&bs)
				}
				if err != nil || len(bs.Batches) != 1 || bs.Batches[0].TaskNo == "" || !slices.Equal(bs.Batches[0].Bills, []string{id}) {
					t.Fatalf("batch workflow %s's first run: %+v, %v; want one submitted batch of bill %s", want, bs, err, id)
				}
				recordRun(t, want, first, "deduction_batch_workflow_first_run")
			} else if final.Deduction.TaskNo == "" {
				t.Errorf("immediate selection returned no taskNo")
			}
			record(t, id, "deduction_"+mode)

			// The cloud's view: the special invoice is selected (for batch: once its batch is submitted).
			deadline := time.Now().Add(time.Minute)
			for !s.selected(special) {
				if time.Now().After(deadline) {
					t.Fatalf("invoice %s never selected for deduction in the simulator", special)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if s.selected(ordinary) {
				t.Errorf("ordinary invoice %s was selected for deduction", ordinary)
			}
		})
	}
}

// selected reports whether the simulator holds the invoice as selected for deduction.
func (s *stack) selected(serial string) bool {
	var inv struct {
		Deduction *struct {
			Selected bool `json:"selected"`
		} `json:"deduction"`
	}
	s.get("/__sim/invoices/"+serial, &inv)
	return inv.Deduction != nil && inv.Deduction.Selected
}
