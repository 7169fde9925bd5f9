package upgrade

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// The embedded default upgraded in place, from each release of UpgradeFrom (a subtest each, two
// at a time): that release's devstack leaves a bill waiting in
// every stage, it is stopped, the current devstack starts on the same data dir (the Temporal
// store, the payload key and the simulator's journal), and every bill then finishes normally —
// completed, or cancelled and rejected where that is the end asked for — with the cloud's ledger
// agreeing: the invoices each bill lists are exactly those the cloud holds for it, at the same
// status; a completed bill's voucher is at the cloud; a cancelled or rejected bill holds nothing.
func TestUpgradeInPlaceFromPreviousRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two devstacks")
	}
	current := buildCurrent(t)
	for _, release := range UpgradeFrom {
		t.Run(release[:7], func(t *testing.T) {
			t.Parallel() // each on its own data dir and addresses
			upgradeInPlaceFrom(t, release, current)
		})
	}
}

func upgradeInPlaceFrom(t *testing.T, release, current string) {
	previous := buildRelease(t, release)
	dataDir := t.TempDir()
	at := freeAddrs(t)
	ctx := t.Context()

	// 1. The previous release: one bill waiting in each stage.
	old := startDevstack(t, "devstack@"+release[:7], previous, dataDir, at)
	c := client{t: t, ctx: ctx, p: old}
	manual := false
	start := func(id string, opts *workflows.Options) startAnswer {
		t.Helper()
		in := bill(id)
		if opts != nil {
			in.Options = *opts
		}
		var a startAnswer
		c.must(http.MethodPost, c.p.api+"/v1/bills", in, &a)
		if a.Stage != workflows.StageCollecting || a.Collect.PC == "" {
			t.Fatalf("start %s: %+v", id, a)
		}
		return a
	}
	// collectingEmpty: collecting, nothing imported yet.
	start("UP-EMPTY", nil)
	// collectingFull: collecting with invoices bound (autoSubmit off, not submitted yet).
	full := start("UP-FULL", &workflows.Options{AutoSubmit: &manual})
	collect(c, full.Collect.PC, 2)
	waitBill(c, "UP-FULL", "two invoices bound", func(s workflows.BillState) bool { return s.InvoiceCount == 2 })
	// returned: the supervisor sent it back; it collects again holding its invoices.
	returned := start("UP-RETURNED", nil)
	collect(c, returned.Collect.PC, 1)
	waitStage(c, "UP-RETURNED", workflows.StageAwaitingSupervisor)
	approve(c, "UP-RETURNED", "supervisor", workflows.DecisionReturn)
	waitStage(c, "UP-RETURNED", workflows.StageCollecting)
	// awaitingSupervisor, twice: one to approve after the upgrade, one to reject.
	for _, id := range []string{"UP-SUPERVISOR", "UP-REJECT"} {
		a := start(id, nil)
		collect(c, a.Collect.PC, 2)
		waitStage(c, id, workflows.StageAwaitingSupervisor)
	}
	// awaitingFinance.
	fin := start("UP-FINANCE", nil)
	collect(c, fin.Collect.PC, 1)
	waitStage(c, "UP-FINANCE", workflows.StageAwaitingSupervisor)
	approve(c, "UP-FINANCE", "supervisor", workflows.DecisionApprove)
	waitStage(c, "UP-FINANCE", workflows.StageAwaitingFinance)
	// awaitingVoucher.
	vou := start("UP-VOUCHER", nil)
	collect(c, vou.Collect.PC, 1)
	waitStage(c, "UP-VOUCHER", workflows.StageAwaitingSupervisor)
	approve(c, "UP-VOUCHER", "supervisor", workflows.DecisionApprove)
	approve(c, "UP-VOUCHER", "finance", workflows.DecisionApprove)
	waitStage(c, "UP-VOUCHER", workflows.StageAwaitingVoucher)
	// failed: the ERP forwards an invoice another bill (UP-REJECT) holds; the cloud refuses to bind it.
	start("UP-FAILED", nil)
	taken := state(c, "UP-REJECT").Invoices[0].SerialNo
	var pooled simulator.InvoiceView
	c.must(http.MethodGet, c.sim("/__sim/invoices/"+url.PathEscape(taken)), nil, &pooled)
	c.must(http.MethodPost, c.bill("UP-FAILED")+"/invoices", map[string]any{"invoiceData": []any{pooled.Invoice}}, nil)
	failed := waitStage(c, "UP-FAILED", workflows.StageFailed)
	if failed.Error == nil || failed.Error.Step != "bindInvoices" {
		t.Fatalf("UP-FAILED failed at %+v, want bindInvoices", failed.Error)
	}
	before := map[string]workflows.BillState{}
	for _, id := range allBills {
		before[id] = state(c, id)
	}
	old.stop(t)

	// 2. The current release on the same data dir: each bill as it was left.
	cur := startDevstack(t, "devstack (this build)", current, dataDir, at)
	c.p = cur
	for _, id := range allBills {
		got := state(c, id)
		if got.Stage != before[id].Stage || got.InvoiceCount != before[id].InvoiceCount || got.TotalAmount != before[id].TotalAmount {
			t.Fatalf("%s across the upgrade: %s with %d invoices (%s), was %s with %d (%s)", id,
				got.Stage, got.InvoiceCount, got.TotalAmount, before[id].Stage, before[id].InvoiceCount, before[id].TotalAmount)
		}
	}

	// 3. Every bill finishes under the new code.
	c.must(http.MethodPost, c.bill("UP-EMPTY")+"/cancel", workflows.CancelRequest{Reason: "upgrade test: not needed"}, nil)

	c.must(http.MethodPost, c.bill("UP-FULL")+"/submit", workflows.SubmitRequest{By: "u1"}, nil)
	approveToVoucher(c, "UP-FULL")

	// The returned bill collects once more (a fresh collect URL from the new code) and is submitted.
	var cu workflows.CollectURLResponse
	c.must(http.MethodGet, c.bill("UP-RETURNED")+"/collect-url?client=pc", nil, &cu)
	collect(c, cu.URL, 1)
	waitBill(c, "UP-RETURNED", "the second import bound", func(s workflows.BillState) bool { return s.InvoiceCount == 2 })
	if state(c, "UP-RETURNED").Stage == workflows.StageCollecting {
		c.must(http.MethodPost, c.bill("UP-RETURNED")+"/submit", workflows.SubmitRequest{By: "u1"}, nil)
	}
	approveToVoucher(c, "UP-RETURNED")

	approveToVoucher(c, "UP-SUPERVISOR")
	approve(c, "UP-FINANCE", "finance", workflows.DecisionApprove)
	waitStage(c, "UP-FINANCE", workflows.StageAwaitingVoucher)

	// The failed bill: the cause is lifted (the bill holding its invoice is rejected, which
	// releases it) and ops retry; the bind goes through and the bill is approved.
	approve(c, "UP-REJECT", "supervisor", workflows.DecisionReject)
	waitStage(c, "UP-REJECT", workflows.StageRejected)
	c.must(http.MethodPost, c.bill("UP-FAILED")+"/retry", workflows.RetryRequest{By: "ops"}, nil)
	approveToVoucher(c, "UP-FAILED")

	for i, id := range []string{"UP-FULL", "UP-RETURNED", "UP-SUPERVISOR", "UP-FINANCE", "UP-VOUCHER", "UP-FAILED"} {
		today := time.Now().Format(time.DateOnly)
		c.must(http.MethodPost, c.bill(id)+"/voucher", workflows.VoucherRequest{VouchID: fmt.Sprintf("V-%d", i), VouchNo: fmt.Sprintf("记-%04d", i),
			AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "SAP"}, nil)
	}
	want := map[string]workflows.Stage{
		"UP-EMPTY": workflows.StageCancelled, "UP-FULL": workflows.StageCompleted, "UP-RETURNED": workflows.StageCompleted,
		"UP-SUPERVISOR": workflows.StageCompleted, "UP-REJECT": workflows.StageRejected, "UP-FINANCE": workflows.StageCompleted,
		"UP-VOUCHER": workflows.StageCompleted, "UP-FAILED": workflows.StageCompleted,
	}

	// 4. The ledger: each bill's invoices are exactly those the cloud holds for it, at the same status.
	for _, id := range allBills {
		final := waitStage(c, id, want[id])
		var cloud simulator.BillView
		status, raw := c.do(http.MethodGet, c.sim("/__sim/bills/OA/"+id), nil, &cloud)
		if status != http.StatusOK {
			t.Errorf("%s: the cloud's view: HTTP %d %.200s", id, status, raw)
			continue
		}
		held := map[string]string{} // serialNo → status, for the invoices the cloud still binds to the bill
		for _, inv := range cloud.Invoices {
			if inv.Status != invoicecloud.StatusUnused {
				held[inv.SerialNo] = inv.Status
			}
		}
		listed := map[string]string{}
		for _, inv := range final.Invoices {
			listed[inv.SerialNo] = inv.Status
		}
		switch want[id] {
		case workflows.StageCompleted:
			if len(listed) == 0 || cloud.Voucher == nil {
				t.Errorf("%s: completed with %d invoices, voucher at the cloud %v", id, len(listed), cloud.Voucher != nil)
			}
			for sn, st := range listed {
				if st != invoicecloud.StatusUsed {
					t.Errorf("%s: invoice %s listed at status %s, want used", id, sn, st)
				}
			}
			if !sameLedger(listed, held) {
				t.Errorf("%s: the bill lists %v, the cloud holds %v", id, listed, held)
			}
		default: // cancelled, rejected: the cloud holds nothing for it
			if len(held) != 0 || cloud.Voucher != nil {
				t.Errorf("%s: %s, yet the cloud holds %v (voucher %v)", id, want[id], held, cloud.Voucher != nil)
			}
		}
	}
}

var allBills = []string{"UP-EMPTY", "UP-FULL", "UP-RETURNED", "UP-SUPERVISOR", "UP-REJECT", "UP-FINANCE", "UP-VOUCHER", "UP-FAILED"}

type startAnswer struct {
	Stage   workflows.Stage `json:"stage"`
	Collect workflows.URLs  `json:"collect"`
}

// bill is a bill of the simulator's ultimate tenant, whose enterprise the devstack serves.
func bill(id string) workflows.BillInput {
	const taxNo = "91440300MA5G9GK78Y"
	return workflows.BillInput{BillID: id, BillNo: "BX-" + id, BillType: "expense", Resource: "OA", BillTaxNo: taxNo, UserID: "u1",
		CompanyInfo: []invoicecloud.Company{{TaxNo: taxNo, Name: "示例科技有限公司"}}}
}

// collect imports n sample invoices on the collect page at pageURL, as the user would.
func collect(c client, pageURL string, n int) {
	c.t.Helper()
	c.must(http.MethodPost, c.sim("/__sim/collect"), map[string]any{"url": pageURL, "count": n}, nil)
}

func state(c client, id string) workflows.BillState {
	c.t.Helper()
	var s workflows.BillState
	c.must(http.MethodGet, c.bill(id), nil, &s)
	return s
}

func waitBill(c client, id, what string, ok func(workflows.BillState) bool) workflows.BillState {
	c.t.Helper()
	var s workflows.BillState
	waitFor(c.t, id+": "+what, func() (bool, string) {
		s = state(c, id)
		return ok(s), fmt.Sprintf("stage %s, %d invoices, error %+v", s.Stage, s.InvoiceCount, s.Error)
	})
	return s
}

func waitStage(c client, id string, stage workflows.Stage) workflows.BillState {
	c.t.Helper()
	return waitBill(c, id, "stage "+string(stage), func(s workflows.BillState) bool { return s.Stage == stage })
}

func approve(c client, id, role, decision string) {
	c.t.Helper()
	c.must(http.MethodPost, c.bill(id)+"/approvals", workflows.ApproveRequest{Role: role, Decision: decision, Approver: role + "-upgrade"}, nil)
}

// approveToVoucher takes a submitted bill through both approvals to awaiting_voucher.
func approveToVoucher(c client, id string) {
	c.t.Helper()
	waitStage(c, id, workflows.StageAwaitingSupervisor)
	approve(c, id, "supervisor", workflows.DecisionApprove)
	approve(c, id, "finance", workflows.DecisionApprove)
	waitStage(c, id, workflows.StageAwaitingVoucher)
}

func sameLedger(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if b[k] != a[k] {
			return false
		}
	}
	return true
}
