package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// scanPoll is the bills' options.scanPollEvery here: the longest a finished scan waits to be
// noticed (the default, a minute, would make the test slow, not different).
const scanPoll = 2 * time.Second

// The image system's three modes (影像模式) end to end through the devstack, on both demo
// enterprises (the ultimate tenant and the standard-edition one), driven only through the HTTP
// API and the simulator's /__sim/ interface: the simulator plays the scanning post. Each bill has
// the default chain (supervisor → finance), each role decided by its own approver.
func TestImageModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel) // the subtests run in parallel, after this function returns
	env := newE2E(t, ctx)
	for _, ed := range []struct {
		name  string
		taxNo string
	}{{"ultimate", harness.DemoTaxNo}, {"standard", harness.DemoStandardTaxNo}} {
		t.Run("basic on "+ed.name+": the scan completes the bill", func(t *testing.T) {
			t.Parallel()
			env.basicMode(t, "E2E-IMG-BASIC-"+strings.ToUpper(ed.name[:3]), ed.taxNo)
		})
		t.Run("match on "+ed.name+": a mismatch returns the bill, a second scan completes it", func(t *testing.T) {
			t.Parallel()
			env.matchMode(t, "E2E-IMG-MATCH-"+strings.ToUpper(ed.name[:3]), ed.taxNo)
		})
		t.Run("submitter on "+ed.name+": the uploads go with the task at submit, no image review", func(t *testing.T) {
			t.Parallel()
			env.submitterMode(t, "E2E-IMG-SUBMIT-"+strings.ToUpper(ed.name[:3]), ed.taxNo)
		})
	}
}

// imageBill is a bill of one image mode under way.
type imageBill struct {
	id, taxNo string
	ent       enterprises.Info
	start     StartAnswer
}

func (b imageBill) ref() string { return "OA/" + b.id }

// startImageBill starts a bill of the enterprise taxNo in mode (companyInfo: the enterprise as the
// registry names it) and checks the options it froze: the enterprise's scanning point and the
// short scan poll.
func (e *e2e) startImageBill(t *testing.T, id, taxNo, mode string, autoSubmit bool) imageBill {
	t.Helper()
	b := imageBill{id: id, taxNo: taxNo, ent: e.enterprise(t, taxNo)}
	// The image system answers at its own address, not the cloud's (影像系统的接口地址).
	if want := e.stack.CloudURL() + simulator.ImageSystemPrefix; b.ent.ImageBaseURL != want {
		t.Fatalf("enterprise %s: image system at %q, want its own address %q", taxNo, b.ent.ImageBaseURL, want)
	}
	in := harness.DemoBill(id)
	in.BillTaxNo, in.CompanyInfo = taxNo, []invoicecloud.Company{{TaxNo: taxNo, Name: b.ent.Name}}
	in.Options = workflows.Options{ImageMode: mode, AutoSubmit: &autoSubmit, ScanPollEvery: workflows.Duration(scanPoll)}
	status, body := e.startBill(t, in)
	if status != http.StatusCreated {
		t.Fatalf("start %s: HTTP %d, want 201: %s", id, status, body)
	}
	if err := json.Unmarshal(body, &b.start); err != nil || b.start.Collect.PC == "" {
		t.Fatalf("start answer %s (%v): no collect URL", body, err)
	}
	var st workflows.BillState
	e.call(t, "GET", e.billURL(id), nil, &st)
	o := st.Bill.Options
	if o.ImageMode != mode || o.ScanPoint != b.ent.ScanPoint || b.ent.ScanPoint != simulator.DefaultScanPoint.ID ||
		o.ScanPollEvery != workflows.Duration(scanPoll) || !slices.Equal(o.Approvals, workflows.DefaultApprovals) {
		t.Fatalf("frozen options: imageMode %s, scanPoint %q, scanPollEvery %s, approvals %v; want %s, the enterprise's %s (registry: %q), %s, %v",
			o.ImageMode, o.ScanPoint, time.Duration(o.ScanPollEvery), o.Approvals,
			mode, simulator.DefaultScanPoint.ID, b.ent.ScanPoint, scanPoll, workflows.DefaultApprovals)
	}
	return b
}

// enterprise is the registry's entry for taxNo (GET /v1/enterprises).
func (e *e2e) enterprise(t *testing.T, taxNo string) enterprises.Info {
	t.Helper()
	var reg struct {
		Enterprises []enterprises.Info `json:"enterprises"`
	}
	e.call(t, "GET", e.stack.APIURL()+"/v1/enterprises", nil, &reg)
	for _, ent := range reg.Enterprises {
		if ent.TaxNo == taxNo {
			return ent
		}
	}
	t.Fatalf("enterprise %s not in the registry: %+v", taxNo, reg.Enterprises)
	return enterprises.Info{}
}

// collectByURL imports n invoices on the bill's collect page (the simulator finds the bill from
// the URL, either edition) and waits until they are bound (status 30), in stage want.
func (e *e2e) collectByURL(t *testing.T, b imageBill, n int, want workflows.Stage) workflows.BillState {
	t.Helper()
	var res simulator.CollectResult
	e.call(t, "POST", e.stack.CloudURL()+"/__sim/collect", map[string]any{"url": b.start.Collect.PC, "count": n}, &res)
	if len(res.Delivered) != n {
		t.Fatalf("sim collect delivered %d invoices, want %d", len(res.Delivered), n)
	}
	st := e.waitFor(t, b.ref(), fmt.Sprintf("%d invoices bound in %s", n, want), func(st workflows.BillState) bool {
		return st.Stage == want && st.InvoiceCount == n
	})
	for _, inv := range st.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			t.Fatalf("invoice %s status %s, want %s (bound)", inv.SerialNo, inv.Status, invoicecloud.StatusInUse)
		}
	}
	return st
}

// waitFor polls the bill's state until ok holds, for at most 90 s; a failed or final stage the
// condition does not accept ends the wait at once.
func (e *e2e) waitFor(t *testing.T, id, what string, ok func(workflows.BillState) bool) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st workflows.BillState
		e.call(t, "GET", e.stack.APIURL()+"/v1/bills/"+id, nil, &st)
		if ok(st) {
			return st
		}
		if st.Stage == workflows.StageFailed || st.Stage.Final() {
			t.Fatalf("bill %s waiting for %s: ended in %s (error %+v)", id, what, st.Stage, st.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("bill %s: no %s within 90s (stage %s, %d invoices, scan %+v)", id, what, st.Stage, st.InvoiceCount, st.Scan)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// decide approves role as its own approver (segregation of duties: one person, one role, and
// never the submitter) and waits for the stage that follows.
func (e *e2e) decide(t *testing.T, b imageBill, role string, next workflows.Stage) workflows.BillState {
	t.Helper()
	if status, body := e.post(t, e.stack.APIURL()+"/v1/bills/"+b.ref()+"/approvals",
		workflows.ApproveRequest{Role: role, Decision: workflows.DecisionApprove, Approver: "img-" + role}); status != http.StatusOK {
		t.Fatalf("%s approve: HTTP %d: %s", role, status, body)
	}
	return e.WaitStage(t, b.ref(), next)
}

// scanTask waits for the bill's current task in the image system other than the ones in seen,
// and checks it names the bill's enterprise, its edition and mode.
func (e *e2e) scanTask(t *testing.T, b imageBill, mode string, seen ...string) simulator.ScanTaskView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var all struct {
			Tasks []simulator.ScanTaskView `json:"tasks"`
		}
		e.call(t, "GET", e.stack.CloudURL()+"/__sim/scantasks", nil, &all)
		i := slices.IndexFunc(all.Tasks, func(v simulator.ScanTaskView) bool {
			return v.Resource == "OA" && v.BillID == b.id && !slices.Contains(seen, v.TaskNo)
		})
		if i >= 0 {
			v := all.Tasks[i]
			if string(v.Edition) != string(b.ent.Edition) || v.Enterprise != b.taxNo || v.Mode != mode || v.BillNo != "BX-"+b.id {
				t.Fatalf("scan task %+v: want edition %s, enterprise %s, mode %s, billNo BX-%s", v, b.ent.Edition, b.taxNo, mode, b.id)
			}
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the image system has no new scan task for %s within 60s (seen %v): %+v", b.ref(), seen, all.Tasks)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// scan plays the scanning post on the bill's current task.
func (e *e2e) scan(t *testing.T, b imageBill, req simulator.ScanRequest) simulator.ScanTaskView {
	t.Helper()
	req.Resource, req.BillID = "OA", b.id
	var v simulator.ScanTaskView
	e.call(t, "POST", e.stack.CloudURL()+"/__sim/scan", req, &v)
	return v
}

// finish approves finance, saves the voucher and waits for completed; the cloud holds the bill's
// invoices used (60) and the voucher.
func (e *e2e) finish(t *testing.T, b imageBill, st workflows.BillState) workflows.BillState {
	t.Helper()
	if st.Stage != workflows.StageAwaitingFinance {
		t.Fatalf("bill %s in %s, want awaiting_finance", b.ref(), st.Stage)
	}
	e.decide(t, b, "finance", workflows.StageAwaitingVoucher)
	today := time.Now().Format("2006-01-02")
	if status, body := e.post(t, e.stack.APIURL()+"/v1/bills/"+b.ref()+"/voucher", workflows.VoucherRequest{
		VouchID: "V-" + b.id, VouchNo: "记-" + b.id, AccountDate: today, AccountTime: today, BusinessDate: today, Resource: "OA",
	}); status != http.StatusOK {
		t.Fatalf("voucher: HTTP %d: %s", status, body)
	}
	final := e.WaitStage(t, b.ref(), workflows.StageCompleted)
	cb := e.cloudBill(t, b.id)
	if cb.Voucher == nil || cb.Voucher.VouchID != "V-"+b.id || len(cb.Invoices) != final.InvoiceCount {
		t.Fatalf("cloud bill: voucher %+v, %d invoices, want V-%s and %d", cb.Voucher, len(cb.Invoices), b.id, final.InvoiceCount)
	}
	for _, inv := range cb.Invoices {
		if inv.Status != invoicecloud.StatusUsed {
			t.Errorf("cloud invoice %s status %s, want %s (used)", inv.SerialNo, inv.Status, invoicecloud.StatusUsed)
		}
	}
	return final
}

func hasNote(st workflows.BillState, stage workflows.Stage, part string) bool {
	return slices.ContainsFunc(st.History, func(h workflows.HistoryEntry) bool {
		return h.Stage == stage && strings.Contains(h.Note, part)
	})
}

// imageCallsAtOwnAddress checks that the enterprise's image calls went to its image system's own
// address and none to the cloud's: the simulator counts the image paths on both addresses
// (Endpoints) and on the image system's (ImageSystemEndpoints), the latter first, so equal counts
// mean every call came through the image system's address.
func (e *e2e) imageCallsAtOwnAddress(t *testing.T, b imageBill) {
	t.Helper()
	push, operate := "/kapi/app/bds/erpBillPush", "/kapi/app/bds/operate"
	if b.ent.Edition == "standard" {
		push, operate = "/m4/bds/erpBillPush", "/m4/bds/operate"
	}
	st := e.stack.Sim.Stats()
	if st.ImageSystemEndpoints[push] == 0 {
		t.Fatalf("no scan task reached the image system's own address: %v", st.ImageSystemEndpoints)
	}
	for _, p := range []string{push, operate} {
		if all, own := st.Endpoints[p], st.ImageSystemEndpoints[p]; all > own {
			t.Fatalf("%s: %d call(s) at the cloud's address, want all %d at the image system's", p, all-own, all)
		}
	}
}

// basic (基础模式): after the supervisor, the bill creates the task at its enterprise's scanning
// point and waits in image_review; the scanning post's scan stores the images and the bill goes
// on to finance.
func (e *e2e) basicMode(t *testing.T, id, taxNo string) {
	b := e.startImageBill(t, id, taxNo, workflows.ImageBasic, true)
	e.collectByURL(t, b, 2, workflows.StageAwaitingSupervisor)
	e.decide(t, b, "supervisor", workflows.StageImageReview)

	task := e.scanTask(t, b, workflows.ImageBasic)
	if task.Status != simulator.ScanPending || task.ScanPoint != simulator.DefaultScanPoint.ID {
		t.Fatalf("new task %+v: want pending at %s", task, simulator.DefaultScanPoint.ID)
	}
	e.imageCallsAtOwnAddress(t, b)
	// The image system has the task as soon as the activity made it; the bill records it when the
	// activity's answer reaches the workflow, a moment later.
	waiting := e.waitFor(t, b.ref(), "the scan task in the state", func(st workflows.BillState) bool {
		return st.Stage == workflows.StageImageReview && st.Scan != nil && st.Scan.TaskNo == task.TaskNo
	})
	if waiting.Scan.Status != string(invoicecloud.ScanPending) {
		t.Fatalf("state.scan while waiting = %+v, want task %s pending", waiting.Scan, task.TaskNo)
	}

	if v := e.scan(t, b, simulator.ScanRequest{AsBound: true, Images: 3}); v.Status != simulator.ScanStored {
		t.Fatalf("scan: %+v, want stored", v)
	}
	st := e.WaitStage(t, b.ref(), workflows.StageAwaitingFinance)
	if st.Scan == nil || st.Scan.TaskNo != task.TaskNo || st.Scan.Status != string(invoicecloud.ScanStored) || st.Scan.Images != 3 || st.Scan.DoneAt == nil {
		t.Fatalf("state.scan after the scan = %+v, want task %s stored with 3 images", st.Scan, task.TaskNo)
	}
	if !hasNote(st, workflows.StageImageReview, "scan task "+task.TaskNo+" stored (3 image(s))") {
		t.Errorf("history lacks the stored scan: %+v", st.History)
	}
	e.finish(t, b, st)
}

// match (影像匹配): the first scan reads one amount wrong, so the image system reports a mismatch:
// the bill goes back to collecting with the image system's problem lines, its invoices still
// bound. The next submit runs the route again and creates a new task, whose exact scan matches
// and completes the bill.
func (e *e2e) matchMode(t *testing.T, id, taxNo string) {
	b := e.startImageBill(t, id, taxNo, workflows.ImageMatch, true)
	bound := e.collectByURL(t, b, 2, workflows.StageAwaitingSupervisor)
	e.decide(t, b, "supervisor", workflows.StageImageReview)

	first := e.scanTask(t, b, workflows.ImageMatch)
	if first.Status != simulator.ScanPending || first.ScanPoint != simulator.DefaultScanPoint.ID {
		t.Fatalf("first task %+v: want pending at %s", first, simulator.DefaultScanPoint.ID)
	}
	if b.ent.ImagePush == enterprises.PushRelay {
		// This image system matches from the pushes it received, relayed by rimflow: the bill's
		// invoices reach it before the paper is scanned.
		eventually(t, "the bill's invoices pushed to the image system", func() bool {
			var got []string
			for _, p := range billImagePushes(e.stack.Sim, b.id) {
				got = append(got, p.SerialNos...)
			}
			return !slices.ContainsFunc(bound.Invoices, func(inv workflows.InvoiceView) bool { return !slices.Contains(got, inv.SerialNo) })
		})
	}
	v := e.scan(t, b, simulator.ScanRequest{Mismatch: true})
	if v.Status != simulator.ScanMismatch || len(v.Lines) != 1 || v.Lines[0].Problem != "amount" {
		t.Fatalf("mismatched scan: %+v, want one amount line", v)
	}
	wrong := v.Lines[0].InvoiceNo
	if v.Lines[0].InvoiceCode != "" {
		wrong = v.Lines[0].InvoiceCode + "-" + wrong
	}

	back := e.waitFor(t, b.ref(), "the return after the mismatch", func(st workflows.BillState) bool {
		return st.Stage == workflows.StageCollecting && st.Scan != nil && st.Scan.Status == string(invoicecloud.ScanMismatch)
	})
	if back.Scan.TaskNo != first.TaskNo || len(back.Scan.Problems) != 1 ||
		!strings.HasPrefix(back.Scan.Problems[0], "amount of "+wrong+": scanned ") {
		t.Fatalf("state.scan after the mismatch = %+v, want task %s with one amount line for %s", back.Scan, first.TaskNo, wrong)
	}
	if !hasNote(back, workflows.StageImageReview, "image mismatch (scan task "+first.TaskNo+"): "+back.Scan.Problems[0]) {
		t.Errorf("history lacks the mismatch with its line: %+v", back.History)
	}
	if back.InvoiceCount != bound.InvoiceCount || back.TotalAmount != bound.TotalAmount {
		t.Fatalf("the return changed the invoices: %d/%s → %d/%s", bound.InvoiceCount, bound.TotalAmount, back.InvoiceCount, back.TotalAmount)
	}
	for _, inv := range back.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			t.Errorf("invoice %s status %s after the return, want %s (still bound)", inv.SerialNo, inv.Status, invoicecloud.StatusInUse)
		}
	}

	// The submitter resubmits (the paper is fixed): the route runs again from the supervisor.
	var resubmitted workflows.BillState
	e.call(t, "POST", e.stack.APIURL()+"/v1/bills/"+b.ref()+"/submit", workflows.SubmitRequest{}, &resubmitted)
	if resubmitted.Stage != workflows.StageAwaitingSupervisor {
		resubmitted = e.WaitStage(t, b.ref(), workflows.StageAwaitingSupervisor)
	}
	e.decide(t, b, "supervisor", workflows.StageImageReview)
	second := e.scanTask(t, b, workflows.ImageMatch, first.TaskNo)
	if second.Status != simulator.ScanPending {
		t.Fatalf("second task %+v: want pending", second)
	}
	var old simulator.ScanTaskView
	if e.call(t, "GET", e.stack.CloudURL()+"/__sim/scantasks/"+first.TaskNo, nil, &old); old.Status != simulator.ScanMismatch {
		t.Errorf("first task after the second was created: %+v, want it kept as mismatch", old)
	}

	if v := e.scan(t, b, simulator.ScanRequest{AsBound: true}); v.Status != simulator.ScanMatched || len(v.Lines) != 0 {
		t.Fatalf("exact scan: %+v, want matched without lines", v)
	}
	st := e.WaitStage(t, b.ref(), workflows.StageAwaitingFinance)
	if st.Scan == nil || st.Scan.TaskNo != second.TaskNo || st.Scan.Status != string(invoicecloud.ScanMatched) || len(st.Scan.Problems) != 0 {
		t.Fatalf("state.scan after the second scan = %+v, want task %s matched", st.Scan, second.TaskNo)
	}
	final := e.finish(t, b, st)
	if n := len(final.Approvals); n != 3 {
		t.Errorf("%d approvals recorded, want 3 (supervisor twice, finance): %+v", n, final.Approvals)
	}
}

// submitter (影像同步提单人): no scanning post. The submitter's images come with the bill while it
// collects (the images update with uploads); the submit sends them with the task, which the image
// system stores at once, and the bill never waits in image_review.
func (e *e2e) submitterMode(t *testing.T, id, taxNo string) {
	b := e.startImageBill(t, id, taxNo, workflows.ImageSubmitter, false)
	e.collectByURL(t, b, 2, workflows.StageCollecting)

	// No images yet: the submit is refused and says why.
	status, body := e.post(t, e.stack.APIURL()+"/v1/bills/"+b.ref()+"/submit", workflows.SubmitRequest{})
	if status != http.StatusConflict || !strings.Contains(string(body), "submitter's images") {
		t.Fatalf("submit without images: HTTP %d, want 409 naming the images: %s", status, body)
	}

	// Above what the image system takes with a task: 413 naming uploads, nothing kept.
	huge := base64.StdEncoding.EncodeToString(make([]byte, invoicecloud.CeilingLimits.UploadBytes+1))
	status, body = e.post(t, e.stack.APIURL()+"/v1/bills/"+b.ref()+"/images", workflows.ImagesRequest{ScanBillNo: "SC-" + id,
		Uploads: []invoicecloud.ImageFile{{Name: "huge.pdf", Type: "pdf", Base64: huge}}})
	var tooLarge struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if status != http.StatusRequestEntityTooLarge || json.Unmarshal(body, &tooLarge) != nil || tooLarge.Error.Code != "body_too_large" ||
		!strings.Contains(tooLarge.Error.Fields["uploads"], "at most 1048576") {
		t.Fatalf("an upload above 1 MiB: HTTP %d %.300s, want 413 body_too_large naming uploads", status, body)
	}

	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n% receipt of " + id + "\n"))
	jpg := base64.StdEncoding.EncodeToString([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00})
	var withImages workflows.BillState
	e.call(t, "POST", e.stack.APIURL()+"/v1/bills/"+b.ref()+"/images", workflows.ImagesRequest{ScanBillNo: "SC-" + id,
		Uploads: []invoicecloud.ImageFile{{Name: "receipt-1.pdf", Type: "pdf", Base64: pdf}, {Name: "receipt-2.jpg", Type: "jpg", Base64: jpg}}},
		&withImages)
	if withImages.Stage != workflows.StageCollecting || withImages.Scan != nil {
		t.Fatalf("after the uploads: stage %s, scan %+v; want collecting with no task yet (autoSubmit off)", withImages.Stage, withImages.Scan)
	}
	// The answer is the bill in brief; the images and the note are in its whole state.
	e.call(t, "GET", e.stack.APIURL()+"/v1/bills/"+b.ref(), nil, &withImages)
	if withImages.Images == nil || len(withImages.Images.Uploads) != 0 || !hasNote(withImages, workflows.StageCollecting, "receipt-1.pdf, receipt-2.jpg") {
		t.Fatalf("after the uploads: images %+v (the state names them, never carries them), history %+v", withImages.Images, withImages.History)
	}

	var submitted workflows.BillState
	e.call(t, "POST", e.stack.APIURL()+"/v1/bills/"+b.ref()+"/submit", workflows.SubmitRequest{}, &submitted)
	if submitted.Stage != workflows.StageAwaitingSupervisor || submitted.Scan == nil ||
		submitted.Scan.Status != string(invoicecloud.ScanStored) || submitted.Scan.Images != 2 || submitted.Scan.ScanPoint != "" {
		t.Fatalf("submit answered stage %s, scan %+v; want awaiting_supervisor with the task stored, 2 images, no scanning point",
			submitted.Stage, submitted.Scan)
	}
	task := e.scanTask(t, b, workflows.ImageSubmitter)
	if task.TaskNo != submitted.Scan.TaskNo || task.Status != simulator.ScanStored || task.ScanPoint != "" ||
		!slices.Equal(task.ImageNames, []string{"receipt-1.pdf", "receipt-2.jpg"}) {
		t.Fatalf("image system's task %+v: want %s stored with receipt-1.pdf and receipt-2.jpg, no scanning point", task, submitted.Scan.TaskNo)
	}

	// The supervisor leads straight to finance: no image review.
	st := e.decide(t, b, "supervisor", workflows.StageAwaitingFinance)
	final := e.finish(t, b, st)
	for _, h := range final.History {
		if h.Stage == workflows.StageImageReview {
			t.Errorf("submitter mode entered image review: %+v", h)
		}
	}
}
