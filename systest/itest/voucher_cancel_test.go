package itest

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// TestCancelFromTemporalWhileVoucherSaves: ops cancel the workflow (Temporal Web, the CLI) while
// voucherSave is on its way to a slow cloud. The call runs to its outcome: a voucher the cloud
// saved completes the bill (the cancel is refused, as after any voucher); one it refused is
// followed by the saga, and the bill ends cancelled with nothing held at the cloud.
func TestCancelFromTemporalWhileVoucherSaves(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults simulator.Faults
		saved  bool
	}{
		{"saved", simulator.Faults{LatencyMs: 1500}, true},
		{"refused", simulator.Faults{LatencyMs: 1500, ErrorRate: 1, MessageTypes: []string{"voucherSave"}, RefuseCode: "1001", RefuseField: "vouchNo"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, 93, lenient)
			billID := "VC-" + tc.name
			run := s.start(input(billID, workflows.Options{Approvals: []string{}}))
			id := run.GetID()
			serials := s.collect(s.collectURL(id).EventCode, 2)
			waitStage(t, id, workflows.StageAwaitingVoucher)
			if err := s.sim.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = update[workflows.BillState](t, id, workflows.UpdateVoucher, voucher()) }()
			waitFor(t, "voucherSave on its way", func() bool { return s.pendingActivity(id, "SaveVoucher") })
			if err := tcCancel(t, id); err != nil {
				t.Fatal(err)
			}
			err := run.Get(ctxT(t), nil)
			s.sim.ClearFaults()
			st := state(t, id)
			cloud := s.bill(billID)
			if tc.saved {
				if err != nil || st.Stage != workflows.StageCompleted {
					t.Fatalf("saved voucher: result %v, stage %s, want completed", err, st.Stage)
				}
				if cloud.Voucher == nil {
					t.Fatal("the cloud has no voucher")
				}
				s.cloudHolds(t, billID, serials, invoicecloud.StatusUsed)
				return
			}
			var canceled *temporal.CanceledError
			if !errors.As(err, &canceled) || st.Stage != workflows.StageCancelled {
				t.Fatalf("refused voucher: result %v, stage %s (error %+v), want cancelled", err, st.Stage, st.Error)
			}
			if cloud.Voucher != nil {
				t.Fatal("the cloud has a voucher")
			}
			s.cloudHolds(t, billID, nil, "")
		})
	}
}

func tcCancel(t *testing.T, wfID string) error { return tc.CancelWorkflow(ctxT(t), wfID, "") }

// pendingActivity reports whether the bill has an activity of that type running.
func (s *stack) pendingActivity(wfID, name string) bool {
	d, err := tc.DescribeWorkflowExecution(ctxT(s.t), wfID, "")
	if err != nil {
		s.t.Fatalf("describe: %v", err)
	}
	for _, a := range d.GetPendingActivities() {
		if a.GetActivityType().GetName() == name {
			return true
		}
	}
	time.Sleep(20 * time.Millisecond)
	return false
}
