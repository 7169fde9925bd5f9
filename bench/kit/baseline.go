package kit

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// BaselineTaskQueue is where the baseline runs. It registers its workflow under the bill's own
// type name, so api.Bills drives it exactly as it drives a bill (update-with-start of collectUrl
// answering the start's view, approve and voucher updates answering the state); only the task queue differs.
const BaselineTaskQueue = "rimflow-baseline"

// BaselineWorkflow has a bill's shape with empty bodies: the same activities (getEventCode, a
// watcher that "receives" one invoice at once, a second watcher, bind, mark used, voucher), the
// same updates (collectUrl, two approvals, voucher), the `state` query and a BillStage search
// attribute upsert per stage. What a bill costs beyond it is rimflow's own work.
func BaselineWorkflow(ctx workflow.Context, in workflows.BillInput) (workflows.BillState, error) {
	in.Normalize()
	b := &baseline{st: workflows.BillState{
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, Stage: workflows.StageCollecting, Bill: in,
		Invoices: []workflows.InvoiceView{}, TotalAmount: "0.00", Approvals: []workflows.ApprovalRecord{},
		History: []workflows.HistoryEntry{},
	}}
	if err := b.setup(ctx); err != nil {
		return b.st, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: workflows.ActivityStartToClose,
		RetryPolicy:         workflows.RetryPolicy(),
	})
	var code calls.EventCodeResult
	if err := workflow.ExecuteActivity(ctx, "GetEventCode", calls.EventCodeInput{MessageID: "b"}).Get(ctx, &code); err != nil {
		return b.st, err
	}
	b.st.EventCode = code.EventCode
	exp := code.ExpiresAt
	b.st.Collect = workflows.URLs{PC: code.Pages.CollectPC, Mobile: code.Pages.CollectMobile, ExpiresAt: &exp}
	if err := workflow.ExecuteActivity(ctx, "WatchInvoices", calls.WatchInput{}).Get(ctx, nil); err != nil {
		return b.st, err
	}
	if err := workflow.ExecuteActivity(ctx, "BindInvoices", calls.BillSaveInput{}).Get(ctx, nil); err != nil {
		return b.st, err
	}
	b.st.InvoiceCount = 1
	for _, role := range []string{"supervisor", "finance"} {
		if err := b.enter(ctx, workflows.AwaitingStage(role)); err != nil {
			return b.st, err
		}
		if err := b.waitDecision(ctx, role); err != nil {
			return b.st, err
		}
	}
	if err := workflow.ExecuteActivity(ctx, "MarkUsed", calls.BillSaveInput{}).Get(ctx, nil); err != nil {
		return b.st, err
	}
	b.release("finance")
	if err := b.enter(ctx, workflows.StageAwaitingVoucher); err != nil {
		return b.st, err
	}
	if err := workflow.Await(ctx, func() bool { return b.voucher != nil }); err != nil {
		return b.st, err
	}
	if err := workflow.ExecuteActivity(ctx, "SaveVoucher", calls.VoucherInput{}).Get(ctx, nil); err != nil {
		return b.st, err
	}
	b.st.Voucher = &workflows.VoucherView{VoucherRequest: *b.voucher}
	b.voucherDone = true
	if err := b.enter(ctx, workflows.StageCompleted); err != nil {
		return b.st, err
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return b.st, nil
}

type baseline struct {
	st          workflows.BillState
	decided     map[string]bool // role -> decision received
	applied     map[string]bool // role -> the decision's step is done (the update answers then)
	voucher     *workflows.VoucherRequest
	voucherDone bool
}

func (b *baseline) setup(ctx workflow.Context) error {
	b.decided, b.applied = map[string]bool{}, map[string]bool{}
	if err := workflow.SetQueryHandler(ctx, workflows.QueryState, func() (workflows.BillState, error) { return b.st, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateCollectURL,
		func(ctx workflow.Context, req workflows.CollectURLRequest) (workflows.CollectURLResult, error) {
			if err := workflow.Await(ctx, func() bool { return b.st.EventCode != "" }); err != nil {
				return workflows.CollectURLResult{}, err
			}
			out := workflows.CollectURLResult{CollectURLResponse: workflows.CollectURLResponse{URL: b.st.Collect.PC,
				EventCode: b.st.EventCode, ExpiresAt: *b.st.Collect.ExpiresAt}}
			if req.Start != nil { // a start's answer, as a bill gives it (workflows.StartView)
				out.Start = &workflows.StartView{Stage: b.st.Stage, Collect: b.st.Collect, View: b.st.View}
				if p := workflow.GetInfo(ctx).Memo.GetFields()[workflows.MemoStartRequest]; p != nil {
					out.Start.Marker, _ = proto.MarshalOptions{Deterministic: true}.Marshal(p)
				}
			}
			return out, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(workflows.CollectURLRequest) error {
			return b.stageIs(workflows.StageCollecting)
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateApprove,
		func(ctx workflow.Context, req workflows.ApproveRequest) (workflows.BillState, error) {
			b.decided[req.Role] = true
			b.st.Approvals = append(b.st.Approvals, workflows.ApprovalRecord{Round: 1, Role: req.Role,
				Decision: req.Decision, Approver: req.Approver, At: workflow.Now(ctx)})
			err := workflow.Await(ctx, func() bool { return b.applied[req.Role] })
			return b.st, err
		},
		workflow.UpdateHandlerOptions{Validator: func(req workflows.ApproveRequest) error {
			if b.decided[req.Role] {
				return fmt.Errorf("%s has already decided in this round", req.Role)
			}
			return b.stageIs(workflows.AwaitingStage(req.Role))
		}}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateVoucher,
		func(ctx workflow.Context, req workflows.VoucherRequest) (workflows.BillState, error) {
			b.voucher = &req
			err := workflow.Await(ctx, func() bool { return b.voucherDone })
			return b.st, err
		},
		workflow.UpdateHandlerOptions{Validator: func(workflows.VoucherRequest) error {
			if b.voucher != nil {
				return fmt.Errorf("the voucher is already being saved")
			}
			return b.stageIs(workflows.StageAwaitingVoucher)
		}})
}

func (b *baseline) stageIs(want workflows.Stage) error {
	if b.st.Stage != want {
		return fmt.Errorf("the bill is in stage %s, not %s", b.st.Stage, want)
	}
	return nil
}

// waitDecision waits for the role's approval; the supervisor's is applied at once (the next
// stage is entered), the finance one after MarkUsed, as in a bill.
func (b *baseline) waitDecision(ctx workflow.Context, role string) error {
	if err := workflow.Await(ctx, func() bool { return b.decided[role] }); err != nil {
		return err
	}
	if role != "finance" {
		b.release(role)
	}
	return nil
}

func (b *baseline) release(role string) { b.applied[role] = true }

func (b *baseline) enter(ctx workflow.Context, stage workflows.Stage) error {
	b.st.Stage = stage
	return workflow.UpsertTypedSearchAttributes(ctx, workflows.SABillStage.ValueSet(string(stage)))
}

// BaselineActivities are the bill's activity names with empty bodies.
type BaselineActivities struct{}

func (BaselineActivities) GetEventCode(_ context.Context, in calls.EventCodeInput) (calls.EventCodeResult, error) {
	return calls.EventCodeResult{EventCode: "baseline", ExpiresAt: time.Now().Add(10 * time.Minute),
		Pages: invoicecloud.Pages{CollectPC: "http://baseline.invalid/?eventCode=baseline",
			CollectMobile: "http://baseline.invalid/m?eventCode=baseline"}}, nil
}

func (BaselineActivities) WatchInvoices(context.Context, calls.WatchInput) error { return nil }

func (BaselineActivities) BindInvoices(context.Context, calls.BillSaveInput) error { return nil }
func (BaselineActivities) MarkUsed(context.Context, calls.BillSaveInput) error     { return nil }
func (BaselineActivities) SaveVoucher(context.Context, calls.VoucherInput) error   { return nil }

// RegisterBaseline puts the baseline on a worker of BaselineTaskQueue.
func RegisterBaseline(r worker.Registry) {
	r.RegisterWorkflowWithOptions(BaselineWorkflow, workflow.RegisterOptions{Name: workflows.BillWorkflowName})
	r.RegisterActivity(&BaselineActivities{})
}
