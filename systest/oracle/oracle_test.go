package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/query"
	"rimflow/invoicecloud"
	"rimflow/systest/skips"
	"rimflow/workflows"
)

// kind is one operation of a history.
type kind int

const (
	opStart          kind = iota // the ERP starts bill B (options drawn from N)
	opAdvance                    // whatever moves bill B on: collect, submit, approve, voucher, retry
	opCollect                    // the user imports N invoices on the collect page (socket or poll)
	opForward                    // the same, and the ERP forwards the payload its browser received
	opGhost                      // the ERP forwards an invoice the cloud's pool does not have
	opRemove                     // the ERP takes the N-th invoice (bound or pending) off bill B
	opReturn                     // the awaited role returns bill B
	opReject                     // the awaited role rejects bill B
	opCancelAPI                  // the ERP cancels bill B
	opCancelSignal               // ops cancel bill B from Temporal Web (the cancel signal)
	opCancelWorkflow             // ops cancel bill B's workflow (Temporal's cancel)
	opFault                      // the cloud misbehaves during the next operation (fault N)
	opRestartWorker              // the worker process stops (SIGTERM) and another starts
	opAmend                      // the ERP amends the line fields of bill B's N-th invoice while it collects
	opResolve                    // ops release bill B's invoices at the cloud by hand and resolve its failed compensation
	opScan                       // the scan of bill B in image review: the image system's (N even) or the ERP's report, a mismatch when N%3 == 0
	kinds
)

var kindNames = [...]string{"start", "advance", "collect", "forward", "ghost", "remove", "return", "reject",
	"cancel", "cancelSignal", "cancelWorkflow", "fault", "restart", "amend", "resolve", "scan"}

// weights draw the operations after the starts: mostly what moves bills on.
var weights = [...]int{0, 36, 10, 5, 2, 12, 5, 3, 2, 2, 2, 14, 2, 5, 3, 5}

// faults the opFault operation injects (by N): the cloud's (simulator.Faults, for the operation's
// calls), or the process's (proc), struck as soon as the operation's call went out.
var faults = []struct {
	name string
	f    simulator.Faults
	proc string
}{
	{"5xx", simulator.Faults{ErrorRate: 0.5}, ""},
	{"lost-answer", simulator.Faults{ErrorRate: 0.5, FailAfterApply: true}, ""},
	{"latency", simulator.Faults{LatencyMs: 300}, ""},
	{"drop-sockets", simulator.Faults{DropSockets: true, DropAfterMs: 200}, ""},
	{"revoke-tokens", simulator.Faults{ExpireTokens: true}, ""},
	{"refuse", simulator.Faults{ErrorRate: 1, RefuseCode: "1001", RefuseField: "billNo"}, ""},
	{"sigkill-worker", simulator.Faults{}, procKill},
	{"restart-server", simulator.Faults{}, procServer},
}

const (
	procKill   = "kill"   // the worker process is SIGKILLed mid-activity and another starts
	procServer = "server" // the Temporal server stops and starts again on its data dir
)

type op struct {
	K    kind
	B, N int
}

func (o op) String() string { return fmt.Sprintf("%s.%d.%d", kindNames[o.K], o.B, o.N) }

func formatOps(ops []op) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = o.String()
	}
	return strings.Join(parts, ",")
}

func parseOps(s string) ([]op, error) {
	var out []op
	for _, p := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(p), ".")
		k := slices.Index(kindNames[:], f[0])
		if len(f) != 3 || k < 0 {
			return nil, fmt.Errorf("-ops: %q is not kind.bill.n", p)
		}
		b, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("-ops: %q is not kind.bill.n", p)
		}
		out = append(out, op{kind(k), b, n})
	}
	return out, nil
}

const billsPerHistory = 3

// debugf prints with -v only when RIMFLOW_ORACLE_DEBUG is set: what an operation could not do.
func debugf(format string, args ...any) {
	if os.Getenv("RIMFLOW_ORACLE_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// generate draws a history from seed: every bill starts, then n operations interleaved across them.
func generate(seed int64, n int) []op {
	rng := rand.New(rand.NewPCG(uint64(seed), 21))
	var ops []op
	for b := range billsPerHistory {
		ops = append(ops, op{opStart, b, rng.IntN(startOptions)})
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	for range n {
		x := rng.IntN(total)
		k := kind(0)
		for ; x >= weights[k]; k++ {
			x -= weights[k]
		}
		o := op{K: k, B: rng.IntN(billsPerHistory), N: rng.IntN(4)}
		if k == opFault {
			o.N = rng.IntN(len(faults))
		}
		ops = append(ops, o)
	}
	return ops
}

// billRun is one bill of a history as the oracle follows it.
type billRun struct {
	id        string
	started   bool
	explained string // why the bill may sit in failed: an injected refusal, a bad forward
	taxNo     string // the bill's enterprise: the ultimate one, or the standard one (its invoices come by push)
	imageMode string
	amends    int
	batchSeen bool // its batch deduction was seen submitted (counted once)
}

// history runs one list of operations on a stack and checks the invariants at every quiet point.
type history struct {
	s      *stack
	tag    string
	bills  []*billRun
	ghosts int
	fault  int // the fault armed for the next operation (-1: none)
	killed int // worker processes SIGKILLed so far
	// unsettled: the last compare met a deduction batch whose selection call was in flight, so it
	// could not know what the cloud will hold; check asks again.
	unsettled bool
}

// forwardAfterKill is how long a collect waits for the bill to record an import whose watcher's
// worker was SIGKILLed before the ERP forwards its copy: longer than the dead watcher takes to move
// to the next worker (its heartbeat timeout, a retry, a reconnect).
const forwardAfterKill = 2*watchHeartbeat + 5*time.Second

var attempts atomic.Int64

// run executes ops and returns the first violation ("" if none) and the quiet points checked.
func run(s *stack, tag string, ops []op) (violation string, checks int) {
	h := &history{s: s, tag: fmt.Sprintf("%s-%d", tag, attempts.Add(1)), fault: -1}
	for b := range billsPerHistory {
		h.bills = append(h.bills, &billRun{id: fmt.Sprintf("%s-B%d", h.tag, b)})
	}
	defer s.sim.ClearFaults()
	for i, o := range ops {
		if o.B < 0 || o.B >= billsPerHistory {
			continue
		}
		if o.K == opFault {
			h.fault = o.N % len(faults)
			continue
		}
		armed := h.fault
		h.fault = -1
		strike := func() {}
		if armed >= 0 {
			done.note("fault:" + faults[armed].name)
			switch faults[armed].proc {
			case procKill:
				strike = sync.OnceFunc(func() { h.killed++; s.killWorker() })
			case procServer:
				strike = sync.OnceFunc(s.restartServer)
			default:
				if err := s.sim.SetFaults(faults[armed].f); err != nil {
					s.t.Fatalf("faults: %v", err)
				}
			}
			if faults[armed].name == "refuse" {
				for _, b := range h.bills {
					if b.explained == "" {
						b.explained = "an injected refusal"
					}
				}
			}
		}
		h.do(o, func() { s.sim.ClearFaults(); strike() })
		s.sim.ClearFaults()
		strike()
		if v := h.quiet(); v != "" {
			return fmt.Sprintf("after op %d (%s): %s", i, o, v), checks
		}
		checks++
		if v := h.check(); v != "" {
			return fmt.Sprintf("after op %d (%s): %s", i, o, v), checks
		}
	}
	for _, b := range h.bills {
		if st, ok := s.state(b.id); ok && b.started {
			end := string(st.Stage)
			if d := st.Deduction; d != nil {
				end += fmt.Sprintf("(deduction %s of %d)", d.Mode, len(d.SerialNos))
			}
			finals.note(end)
		}
	}
	return "", checks
}

// tally counts what the histories reached, for the summary line.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tally) note(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[k]++
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.n))
	for k := range t.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, t.n[k])
	}
	return strings.Join(parts, ", ")
}

// finals are the bills' stages at the end of their histories; done the operations that acted.
var finals, done tally

func (h *history) path(b *billRun, tail string) string {
	return "/v1/bills/OA/" + url.PathEscape(b.id) + tail
}

func wfID(b *billRun) string { return workflows.BillWorkflowID("OA", b.id) }

// do runs one operation; cleared ends the injected faults once its call went out (so the bill's
// retries afterwards meet a healthy cloud and the history reaches a quiet point).
func (h *history) do(o op, cleared func()) {
	s, b := h.s, h.bills[o.B]
	if o.K == opStart {
		if !b.started {
			h.start(b, o.N)
		}
		cleared()
		return
	}
	if o.K == opRestartWorker {
		done.note("restart")
		cleared()
		s.restartWorker()
		return
	}
	if !b.started {
		return
	}
	st, ok := s.state(b.id)
	if !ok {
		return
	}
	if o.K == opRemove {
		// A removal goes to the first bill, from B on, that can take one off (collecting or
		// failed, with an invoice): drawn blind it would rarely find one.
		for i := range billsPerHistory {
			c := h.bills[(o.B+i)%billsPerHistory]
			if cs, ok := s.state(c.id); ok && c.started && (cs.Stage == workflows.StageCollecting || cs.Stage == workflows.StageFailed) &&
				len(cs.Invoices)+len(cs.PendingInvoices) > 0 {
				b, st = c, cs
				break
			}
		}
	}
	awaiting := st.AwaitingRole != "" && (st.Stage == workflows.StageAwaitingSupervisor || st.Stage == workflows.StageAwaitingFinance)
	switch o.K {
	case opAdvance:
		switch {
		case st.Stage == workflows.StageCollecting && (st.InvoiceCount == 0 || o.N == 0):
			h.collect(b, st, 1+o.N%3, false, cleared)
		case st.Stage == workflows.StageCollecting && b.imageMode == workflows.ImageSubmitter && st.Images == nil:
			done.note("upload")
			s.call(http.MethodPost, h.path(b, "/images"), workflows.ImagesRequest{ScanBillNo: "SC-" + b.id,
				Uploads: []invoicecloud.ImageFile{{Name: "receipt.png", Type: "png", Base64: tinyPNG}}}, nil)
		case st.Stage == workflows.StageImageReview:
			h.scan(b, st, false, o.N%2 == 0)
		case st.Stage == workflows.StageCollecting:
			done.note("submit")
			s.call(http.MethodPost, h.path(b, "/submit"), workflows.SubmitRequest{By: "u1"}, nil)
		case awaiting:
			done.note("approve")
			h.decide(b, st.AwaitingRole, workflows.DecisionApprove)
		case st.Stage == workflows.StageAwaitingVoucher:
			done.note("voucher")
			s.call(http.MethodPost, h.path(b, "/voucher"), workflows.VoucherRequest{VouchID: "V-" + b.id, VouchNo: "记-" + b.id,
				AccountDate: "2026-11-30", AccountTime: "2026-11-30", BusinessDate: "2026-11-29", Resource: "SAP"}, nil)
		case st.Stage == workflows.StageFailed:
			done.note("retry")
			s.call(http.MethodPost, h.path(b, "/retry"), workflows.RetryRequest{By: "ops"}, nil)
		}
	case opCollect, opForward:
		if st.Stage == workflows.StageCollecting {
			h.collect(b, st, 1+o.N%3, o.K == opForward, cleared)
		}
	case opGhost:
		if st.Stage == workflows.StageCollecting {
			h.ghosts++
			done.note("ghost")
			b.explained = "a forwarded invoice the pool does not have"
			ghost := map[string]any{"invoiceData": []map[string]any{{"serialNo": fmt.Sprintf("GHOST-%s-%d", h.tag, h.ghosts), "invoiceType": "26",
				"invoiceAmount": "10.00", "totalTaxAmount": "0.60", "totalAmount": "10.60", "buyerTaxNo": b.taxNo}}}
			s.call(http.MethodPost, h.path(b, "/invoices"), ghost, nil)
		}
	case opRemove:
		all := append(slices.Clone(st.Invoices), st.PendingInvoices...)
		if (st.Stage == workflows.StageCollecting || st.Stage == workflows.StageFailed) && len(all) > 0 {
			sn := all[o.N%len(all)].SerialNo
			done.note(fmt.Sprintf("remove(%s,%d left)", st.Stage, len(all)-1))
			s.call(http.MethodDelete, h.path(b, "/invoices/"+url.PathEscape(sn)+"?reason=oracle"), nil, nil)
		}
	case opReturn, opReject:
		if awaiting {
			d := workflows.DecisionReturn
			if o.K == opReject {
				d = workflows.DecisionReject
			}
			done.note(d)
			h.decide(b, st.AwaitingRole, d)
		}
	case opAmend:
		if st.Stage == workflows.StageCollecting && len(st.Invoices) > 0 {
			b.amends++
			sn := st.Invoices[o.N%len(st.Invoices)].SerialNo
			done.note("amend")
			s.call(http.MethodPatch, h.path(b, ""), workflows.AmendRequest{Reason: "oracle: the ERP's cost centre",
				Lines: []workflows.InvoiceLine{{SerialNo: sn, EntryID: fmt.Sprintf("E-%d-%d", o.N, b.amends), Remark: "oracle"}}}, nil)
		}
	case opResolve:
		if !(st.Stage == workflows.StageFailed && st.Error != nil && strings.HasPrefix(st.Error.Step, "compensate")) {
			st = h.refuseUnbind(b, st)
		}
		if st.Stage == workflows.StageFailed && st.Error != nil && strings.HasPrefix(st.Error.Step, "compensate") {
			// What ops do by hand before they resolve: free the bill's invoices in the cloud's UI.
			for _, iv := range s.sim.Invoices() {
				if iv.Resource == "OA" && iv.BillID == b.id && iv.Status != invoicecloud.StatusUnused {
					_, _ = s.sim.Release(iv.SerialNo)
				}
			}
			done.note("resolve(" + st.Error.Step + ")")
			// Ops ask again while the API cannot answer (a timeout under load, a restarting
			// server): they freed the invoices already, so the resolve must be taken. The same
			// Idempotency-Key makes a repeat of an applied resolve answer its first outcome.
			key := fmt.Sprintf("resolve-%s-%d", b.id, time.Now().UnixNano())
			for attempt := 1; ; attempt++ {
				code, body := s.callKeyed(http.MethodPost, h.path(b, "/resolve"), key, workflows.ResolveRequest{By: "ops", Reason: "oracle",
					Done: "released the bill's invoices in the cloud's UI"})
				if code/100 == 2 || code/100 == 4 || attempt == 5 {
					if code/100 != 2 {
						done.note(fmt.Sprintf("resolve answered %d", code))
						debugf("%s: resolve: %d %.300s", b.id, code, body)
					}
					break
				}
				time.Sleep(2 * time.Second)
			}
		}
	case opScan:
		if st.Stage == workflows.StageImageReview {
			h.scan(b, st, o.N%3 == 0, o.N%2 == 0)
		}
	case opCancelAPI:
		done.note("cancel(" + string(st.Stage) + ")")
		s.call(http.MethodPost, h.path(b, "/cancel"), workflows.CancelRequest{Reason: "oracle", By: "erp"}, nil)
	case opCancelSignal:
		done.note("cancelSignal(" + string(st.Stage) + ")")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.s.tc.SignalWorkflow(ctx, wfID(b), "", workflows.SignalCancel, workflows.CancelRequest{Reason: "oracle (Temporal Web)", By: "ops"})
	case opCancelWorkflow:
		done.note("cancelWorkflow(" + string(st.Stage) + ")")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.s.tc.CancelWorkflow(ctx, wfID(b), "")
	}
	cleared()
}

// The devstack's two enterprises (harness.DemoEnterprises): the ultimate tenant's buyer and the
// standard-edition enterprise whose cloud pushes its imports to the API.
var editions = []invoicecloud.Company{
	{TaxNo: harness.DemoTaxNo, Name: "示例科技有限公司"},
	{TaxNo: harness.DemoStandardTaxNo, Name: "上海标准版示例有限公司"},
}

var imageModes = []string{workflows.ImageNone, workflows.ImageBasic, workflows.ImageMatch, workflows.ImageSubmitter}

var deductions = []string{workflows.DeductionNone, workflows.DeductionImmediate, workflows.DeductionBatch}

// startOptions is how many option sets a start draws from (its N): approvals × autoSubmit ×
// socket/poll × edition × image mode × deduction.
var startOptions = 3 * 2 * 2 * len(editions) * len(imageModes) * len(deductions)

func (h *history) start(b *billRun, n int) {
	approvals := [][]string{{}, {"supervisor"}, {"supervisor", "finance"}}[n%3]
	auto := n/3%2 == 0
	push := []string{"socket", "poll"}[n/6%2]
	ent := editions[n/12%len(editions)]
	b.taxNo, b.imageMode = ent.TaxNo, imageModes[n/12/len(editions)%len(imageModes)]
	deduction := deductions[n/12/len(editions)/len(imageModes)%len(deductions)]
	in := workflows.BillInput{BillID: b.id, BillNo: "BX-" + b.id, BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: ent.TaxNo, UserID: "u1", PushType: push, CompanyInfo: []invoicecloud.Company{ent},
		Options: workflows.Options{Approvals: approvals, AutoSubmit: &auto, ImageMode: b.imageMode, Deduction: deduction,
			ScanPollEvery: workflows.MinScanPollEvery}}
	code, body := h.s.call(http.MethodPost, "/v1/bills", in, nil)
	if code/100 != 2 {
		h.s.t.Fatalf("start %s: %d %s", b.id, code, body)
	}
	b.started = true
	done.note(fmt.Sprintf("start(%s,image=%s,deduction=%s)", map[bool]string{true: "ultimate", false: "standard"}[ent.TaxNo == harness.DemoTaxNo], b.imageMode, deduction))
}

// refuseUnbind makes what a resolve is for when bill B does not wait failed in a compensation:
// an ultimate-edition bill holding invoices at 30 is cancelled while the cloud refuses its unbind
// (billDelete) for good, so it waits failed at compensate:unbind. Drawn blind, a refusal rarely
// meets a cancel, and the resolve would never act. It answers the bill's state afterwards.
func (h *history) refuseUnbind(b *billRun, st workflows.BillState) workflows.BillState {
	holding := st.InvoiceCount > 0 && (st.Stage == workflows.StageCollecting || st.Stage == workflows.StageAwaitingSupervisor ||
		st.Stage == workflows.StageAwaitingFinance)
	if !holding || b.taxNo != harness.DemoTaxNo {
		return st
	}
	s := h.s
	if err := s.sim.SetFaults(simulator.Faults{ErrorRate: 1, RefuseCode: "1001", RefuseField: "billNo", MessageTypes: []string{simulator.DefaultUnbindMessageType}}); err != nil {
		s.t.Fatalf("faults: %v", err)
	}
	defer s.sim.ClearFaults()
	b.explained = "an injected refusal of its unbind"
	done.note("refuse-unbind(" + string(st.Stage) + ")")
	s.call(http.MethodPost, h.path(b, "/cancel"), workflows.CancelRequest{Reason: "oracle: staged for a resolve", By: "erp"}, nil)
	if v := h.quiet(); v != "" {
		s.t.Fatalf("refused unbind of %s: %s", b.id, v)
	}
	after, _ := s.state(b.id)
	return after
}

// tinyPNG is a 1×1 PNG: the submitter's image.
const tinyPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

// scan ends bill B's image review: the image system's scanning post scans the paper (system), or
// the ERP reports the scan; mismatch makes the scan disagree with the bound invoices (in match
// mode the bill goes back to collecting; elsewhere it is only stored).
func (h *history) scan(b *billRun, st workflows.BillState, mismatch, system bool) {
	s := h.s
	if system && st.Scan != nil && st.Scan.TaskNo != "" {
		done.note(fmt.Sprintf("scan(%s,system,mismatch=%t)", b.imageMode, mismatch))
		if _, err := s.sim.Scan(simulator.ScanRequest{TaskNo: st.Scan.TaskNo, AsBound: !mismatch, Mismatch: mismatch, Images: 1}); err != nil {
			debugf("%s: scan: %v", b.id, err)
			return
		}
		// The bill notices the scan on its next look at the image system (its wait is idle to the
		// quiet point): wait until it has.
		for began := time.Now(); time.Since(began) < 60*time.Second; time.Sleep(100 * time.Millisecond) {
			if now, ok := s.state(b.id); !ok || now.Stage != workflows.StageImageReview || now.Scan == nil || now.Scan.DoneAt != nil {
				return
			}
		}
		s.t.Logf("%s: the scan was not noticed within 60 s", b.id)
		return
	}
	req := workflows.ImagesRequest{ScanBillNo: "SC-" + b.id, Files: []string{"scan-1.pdf"}, Amounts: map[string]string{}}
	for i, iv := range st.Invoices {
		if iv.InvoiceNo == "" {
			continue
		}
		amount := iv.TotalAmount
		if mismatch && i == 0 {
			amount = "0.01"
		}
		req.InvoiceNos = append(req.InvoiceNos, iv.InvoiceNo)
		req.Amounts[iv.InvoiceNo] = amount
	}
	done.note(fmt.Sprintf("scan(%s,erp,mismatch=%t)", b.imageMode, mismatch))
	s.call(http.MethodPost, h.path(b, "/images"), req, nil)
}

func (h *history) decide(b *billRun, role, decision string) {
	h.s.call(http.MethodPost, h.path(b, "/approvals"), workflows.ApproveRequest{Role: role, Decision: decision, Approver: role + "-approver"}, nil)
}

// collect imports n invoices on a live collect page (as the user would) and waits until the bill
// recorded the delivery; forward also posts the payload as the ERP's browser would.
func (h *history) collect(b *billRun, st workflows.BillState, n int, forward bool, cleared func()) {
	s := h.s
	var cu workflows.CollectURLResponse
	if status, body := s.call(http.MethodGet, h.path(b, "/collect-url"), nil, &cu); status != http.StatusOK {
		done.note(fmt.Sprintf("collect-url(%d)", status))
		debugf("%s: collect-url: %d %.300s", b.id, status, body)
		return
	}
	// The simulator's twin of the user's import on the page the URL opens (either edition's page).
	var res simulator.CollectResult
	if status, body := s.do(http.MethodPost, s.env.CloudURL+"/__sim/collect", map[string]any{"url": cu.URL, "count": n}, &res); status/100 != 2 || len(res.Delivered) == 0 {
		done.note("collect(nothing delivered)")
		debugf("%s: collect %d: %d %.300s", b.id, n, status, body)
		return
	}
	via := "collect"
	if b.taxNo == harness.DemoStandardTaxNo {
		via = "push" // the standard enterprise's cloud pushes the import to the API
	}
	done.note(map[bool]string{false: via, true: via + "+forward"}[forward])
	forwardPayload := func() {
		// The payload as the ERP's browser received it, in the product's invoice record.
		var invs []invoicecloud.Invoice
		raw, _ := json.Marshal(res.Delivered)
		if err := json.Unmarshal(raw, &invs); err != nil {
			s.t.Fatalf("forward: %v", err)
		}
		s.call(http.MethodPost, h.path(b, "/invoices"), workflows.InvoicesSignal{InvoiceData: invs}, nil)
	}
	if forward {
		forwardPayload()
	}
	killed := h.killed
	cleared()
	before := len(st.Deliveries)
	began := time.Now()
	// A socket frame written to a worker SIGKILLed with it is gone (systest/resilience's
	// TestWorkerKilled): the ERP forwards its browser's copy, as the documented remedy says.
	forwardAt := began.Add(forwardAfterKill)
	for time.Since(began) < 60*time.Second {
		now, ok := s.state(b.id)
		if !ok || len(now.Deliveries) > before || now.Stage != workflows.StageCollecting {
			return
		}
		if h.killed != killed && !forward && time.Now().After(forwardAt) {
			done.note("forward(after the kill)")
			forward = true
			forwardPayload()
		}
		time.Sleep(50 * time.Millisecond)
	}
	var pushes []simulator.PushView
	for _, p := range s.sim.Pushes() {
		if p.BillID == b.id {
			pushes = append(pushes, p)
		}
	}
	lk, _ := s.sim.LinkKey(st.EventCode)
	cb, _ := s.sim.Bill("OA", b.id)
	s.t.Logf("%s (%s, %s): the delivery of %d invoice(s) was not recorded within 60 s; pushes %+v; linkKeys %+v (eventCode's %+v)",
		b.id, b.taxNo, st.Bill.PushType, len(res.Delivered), pushes, cb.LinkKeys, lk)
}

// quiet waits until every bill is idle: no cloud call and no workflow task pending (a watcher
// waiting on its socket is idle), seen twice in a row with the same state.
func (h *history) quiet() string {
	deadline := time.Now().Add(3 * time.Minute)
	var last, busy string
	for time.Now().Before(deadline) {
		cur, b := h.snapshot()
		if b == "" && cur == last {
			return ""
		}
		last, busy = cur, b
		if b != "" {
			last = ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "never quiet: " + busy
}

// snapshot is the bills' states in one string and what keeps one busy ("" when none is).
func (h *history) snapshot() (string, string) {
	var sb strings.Builder
	busy := ""
	for _, b := range h.bills {
		if !b.started {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := h.s.tc.DescribeWorkflowExecution(ctx, wfID(b), "")
		cancel()
		if err != nil {
			return "", b.id + ": describe: " + err.Error()
		}
		running := d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		if running && d.GetPendingWorkflowTask() != nil {
			busy = b.id + ": workflow task pending"
		}
		for _, a := range d.GetPendingActivities() {
			// A watcher waiting on its socket, a scan waiting for the scanning post: idle.
			if name := a.GetActivityType().GetName(); running && name != "WatchInvoices" && name != "AwaitScan" {
				busy = b.id + ": activity " + name + " pending (attempt " + strconv.Itoa(int(a.GetAttempt())) + ")"
			}
		}
		st, _ := h.s.state(b.id)
		fmt.Fprintf(&sb, "%s %s %s %d %d|", b.id, st.Stage, st.UpdatedAt, len(d.GetPendingActivities()), d.GetWorkflowExecutionInfo().GetHistoryLength())
		// The bill's batch deduction: its flush (the deduction call, then recording it) is busy.
		if dd := st.Deduction; dd != nil && dd.BatchWorkflowID != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			bd, err := h.s.tc.DescribeWorkflowExecution(ctx, dd.BatchWorkflowID, "")
			cancel()
			if err == nil && bd.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
				(bd.GetPendingWorkflowTask() != nil || len(bd.GetPendingActivities()) > 0) {
				busy = b.id + ": its deduction batch " + dd.BatchWorkflowID + " is busy"
			}
		}
	}
	return sb.String(), busy
}

// check compares every bill with the cloud's ledger.
//
// A quiet point may still see a bill move: a watcher's delivery or a scan's outcome noticed (their
// waits count as idle). The comparison is kept only when the bills and the cloud's ledger are the
// same before and after it, so a move between reading the one and the other is never taken for a
// disagreement.
//
// A deduction batch may begin its selection call after the quiet point (its own timer): while the
// call is in flight the comparison waits for it, up to a minute.
func (h *history) check() string {
	v := ""
	settleBy := time.Now().Add(time.Minute)
	for attempt := 0; attempt < 10 || h.unsettled && time.Now().Before(settleBy); attempt++ {
		before := h.ledgerSignature()
		v = h.compare()
		if !h.unsettled && h.ledgerSignature() == before {
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h.unsettled {
		v = strings.TrimPrefix(v+"; ", "; ") + "a deduction batch's selection call stayed in flight for a minute"
	}
	return v
}

// ledgerSignature is every bill's state and the cloud's records of the bills' invoices, vouchers and
// deductions, in one string.
func (h *history) ledgerSignature() string {
	var sb strings.Builder
	ids := map[string]bool{}
	for _, b := range h.bills {
		if !b.started {
			continue
		}
		ids[b.id] = true
		st, _ := h.s.state(b.id)
		fmt.Fprintf(&sb, "%s %s %s %v %v %+v|", b.id, st.Stage, st.UpdatedAt, st.Invoices, st.Deduction, st.Voucher)
		cb, _ := h.s.sim.Bill("OA", b.id)
		fmt.Fprintf(&sb, "%v %v|", cb.Invoices, cb.Voucher != nil)
	}
	for _, iv := range h.s.sim.Invoices() {
		if ids[iv.BillID] {
			fmt.Fprintf(&sb, "%s %s %s %s %v|", iv.SerialNo, iv.BillID, iv.Status, iv.EntryID, iv.Deduction)
		}
	}
	return sb.String()
}

// compare reads the cloud's ledger, then each bill, and names every disagreement.
func (h *history) compare() string {
	h.unsettled = false
	held := map[string]map[string]string{} // bill → serialNo → status, for invoices the cloud holds (30, 60)
	pool := map[string]simulator.InvoiceView{}
	for _, iv := range h.s.sim.Invoices() {
		pool[iv.SerialNo] = iv
		if iv.BillID != "" && iv.Status != invoicecloud.StatusUnused {
			if held[iv.BillID] == nil {
				held[iv.BillID] = map[string]string{}
			}
			held[iv.BillID][iv.SerialNo] = iv.Status
		}
	}
	var out []string
	for _, b := range h.bills {
		if !b.started {
			continue
		}
		st, ok := h.s.state(b.id)
		if !ok {
			out = append(out, b.id+": the API does not find the bill")
			continue
		}
		cb, _ := h.s.sim.Bill("OA", b.id)
		cloud := held[b.id]
		listed := map[string]string{}
		for _, iv := range st.Invoices {
			listed[iv.SerialNo] = iv.Status
		}
		voucher := cb.Voucher != nil
		switch st.Stage {
		case workflows.StageCancelled, workflows.StageRejected:
			if len(cloud) > 0 {
				out = append(out, fmt.Sprintf("%s is %s but the cloud holds %v for it", b.id, st.Stage, sortedKeys(cloud)))
			}
			if voucher {
				out = append(out, fmt.Sprintf("%s is %s but the cloud has its voucher", b.id, st.Stage))
			}
			continue
		case workflows.StageCompleted:
			if !voucher {
				out = append(out, b.id+" is completed but the cloud has no voucher")
			}
		case workflows.StageFailed:
			if b.explained == "" {
				out = append(out, fmt.Sprintf("%s is failed with no injected cause: step %s: %s", b.id, st.Error.Step, st.Error.Reason))
			}
		}
		if voucher && st.Stage != workflows.StageCompleted && st.Stage != workflows.StageDeducting && st.Stage != workflows.StageFailed {
			out = append(out, fmt.Sprintf("%s is %s but the cloud has its voucher", b.id, st.Stage))
		}
		if !maps2Equal(cloud, listed) {
			stage := string(st.Stage)
			if st.Error != nil { // which step failed, and why: a resolve taken or not, a step after it
				stage += " at " + st.Error.Step + ": " + st.Error.Reason
			}
			out = append(out, fmt.Sprintf("%s (%s) lists %v, the cloud holds %v", b.id, stage, listed, cloud))
		}
		out = append(out, h.checkDeduction(b, st, pool)...)
		// The ERP's line fields (amended while collecting) are at the cloud on every bound invoice;
		// not while the bill is failed: the billSave that carries them may be the refused step,
		// which a retry sends again.
		for _, l := range st.Bill.Lines {
			if _, ok := listed[l.SerialNo]; ok && st.Stage != workflows.StageFailed && l.EntryID != "" && pool[l.SerialNo].EntryID != l.EntryID {
				out = append(out, fmt.Sprintf("%s (%s) has entryId %q on %s, the cloud %q", b.id, st.Stage, l.EntryID, l.SerialNo, pool[l.SerialNo].EntryID))
			}
		}
		want := ""
		switch st.Stage {
		case workflows.StageCollecting, workflows.StageAwaitingSupervisor, workflows.StageImageReview, workflows.StageAwaitingFinance:
			want = invoicecloud.StatusInUse
		case workflows.StageAwaitingVoucher, workflows.StageDeducting, workflows.StageCompleted:
			want = invoicecloud.StatusUsed
		}
		for sn, status := range listed {
			if want != "" && status != want {
				out = append(out, fmt.Sprintf("%s (%s) lists %s at status %s, want %s", b.id, st.Stage, sn, status, want))
			}
		}
	}
	// Every push the cloud sent for these bills was answered (a push for an ended bill too), so the
	// cloud stops resending it; one younger than a few retries may still be on its way.
	ours := map[string]bool{}
	for _, b := range h.bills {
		ours[b.id] = b.started
	}
	for _, p := range h.s.sim.Pushes() {
		if ours[p.BillID] && !p.Delivered && time.Since(p.CreatedAt) > 15*time.Second {
			out = append(out, fmt.Sprintf("the cloud still resends its push %s for %s (%d attempts, last error %q)", p.MsgID, p.BillID, p.Attempts, p.LastError))
		}
	}
	// No invoice is held for one of these bills that the bill does not list: covered above per
	// bill, since held is the pool's own record of which bill holds each invoice.
	return strings.Join(out, "; ")
}

// checkDeduction: an invoice is selected for deduction at the cloud exactly when the bill says
// so — its immediate selection is recorded (deduction.taskNo), or the enterprise's batch workflow
// submitted a batch with the bill.
func (h *history) checkDeduction(b *billRun, st workflows.BillState, pool map[string]simulator.InvoiceView) []string {
	says := map[string]bool{}
	if d := st.Deduction; d != nil {
		submitted := d.Mode == workflows.DeductionImmediate && d.TaskNo != ""
		if d.Mode == workflows.DeductionBatch && d.BatchWorkflowID != "" {
			var settled bool
			submitted, settled = h.batchSubmitted(d.BatchWorkflowID, st.WorkflowID)
			if !settled {
				h.unsettled = true
			}
			if submitted && !b.batchSeen {
				b.batchSeen = true
				done.note("batch submitted")
			}
		}
		for _, sn := range d.SerialNos {
			says[sn] = submitted
		}
	}
	var out []string
	for _, iv := range st.Invoices {
		cloud := pool[iv.SerialNo].Deduction != nil && pool[iv.SerialNo].Deduction.Selected
		if cloud != says[iv.SerialNo] {
			out = append(out, fmt.Sprintf("%s (%s): %s selected for deduction at the cloud: %t, by the bill: %t (deduction %+v)",
				b.id, st.Stage, iv.SerialNo, cloud, says[iv.SerialNo], st.Deduction))
		}
	}
	return out
}

// batchSubmitted reports whether the deduction batch workflow submitted a batch with the bill:
// one of this run's batches holds it, or (handed in, as its batch workflow ID says, and neither
// pending nor refused here) an earlier run of the batch workflow submitted it before continuing
// as new. A hand-off the batch has not processed yet keeps its workflow task pending, which is not
// a quiet point (snapshot).
// batchSubmitted reports whether the bill's batch has submitted it, and whether that is settled:
// not while the batch's selection call for it is in flight (its outcome at the cloud is not known
// yet), nor while the batch does not answer.
func (h *history) batchSubmitted(batchID, billWorkflowID string) (submitted, settled bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := query.Workflow(ctx, h.s.tc, batchID, workflows.QueryState)
	var bs workflows.DeductionBatchState
	if err != nil || v.Get(&bs) != nil {
		return false, false
	}
	if slices.Contains(bs.Submitting, billWorkflowID) {
		return false, false
	}
	for _, r := range bs.Batches {
		if r.Error == "" && slices.Contains(r.Bills, billWorkflowID) {
			return true, true
		}
	}
	if slices.Contains(bs.PendingBills, billWorkflowID) {
		return false, true
	}
	for _, r := range bs.Refused {
		if slices.Contains(r.Bills, billWorkflowID) {
			return false, true
		}
	}
	for _, r := range bs.Batches {
		if slices.Contains(r.Bills, billWorkflowID) {
			return false, true // in this run's failed batch
		}
	}
	return true, true // submitted by an earlier run of the batch (continue-as-new)
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shrink looks for a shorter history that still violates an invariant: it drops one operation at
// a time (starts kept), keeping every drop that still fails, within budget reruns.
func shrink(s *stack, tag string, ops []op, budget int) ([]op, string) {
	best, why := ops, ""
	for i := len(best) - 1; i >= billsPerHistory && budget > 0; i-- {
		cand := slices.Delete(slices.Clone(best), i, i+1)
		budget--
		if v, _ := run(s, tag+"-shrink", cand); v != "" {
			best, why = cand, v
		}
	}
	return best, why
}

// TestLedgerOracle runs random histories under both readings of billSave, on the lenient and the
// strict simulator, and checks each bill against the cloud's ledger after every operation. Short
// by default (a history a reading); -long runs at least 1,000; -seed N replays one.
func TestLedgerOracle(t *testing.T) {
	n := 1 // a history a reading: about 30 s in go test ./... (the readings run in parallel)
	if *long {
		n = 250
	}
	if *histories > 0 {
		n = *histories
	}
	opsPerHistory := 14
	if *long {
		opsPerHistory = 24
	}
	var total, quietPoints, violations atomic.Int64
	began := time.Now()
	summary := func() string {
		return fmt.Sprintf("ledger oracle: %d histories, %d quiet points checked, %d violations in %s; bills ended %s; operations and faults that acted: %s",
			total.Load(), quietPoints.Load(), violations.Load(), time.Since(began).Round(time.Second), finals.String(), done.String())
	}
	// The long mode prints its figures every minute, so a run cut short still reports.
	stopProgress := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopProgress:
				return
			case <-time.After(time.Minute):
				fmt.Fprintln(os.Stderr, "progress:", summary())
			}
		}
	}()
	t.Cleanup(func() { close(stopProgress) })
	for ri, r := range readings() {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			s := newStack(t, r)
			for i := range n {
				seed := int64(ri)*1_000_000 + int64(*first+i) + 1
				if *seedFlag != 0 {
					if i > 0 {
						break
					}
					seed = *seedFlag
				}
				ops := generate(seed, opsPerHistory)
				if *opsFlag != "" {
					var err error
					if ops, err = parseOps(*opsFlag); err != nil {
						t.Fatal(err)
					}
				}
				tag := fmt.Sprintf("S%d", seed)
				v, checks := run(s, tag, ops)
				total.Add(1)
				quietPoints.Add(int64(checks))
				if v == "" {
					continue
				}
				violations.Add(1)
				// At once, so a long run cut short still shows it; the shrunk history follows.
				fmt.Fprintf(os.Stderr, "violation: %s seed %d: %s\nhistory: %s\n", r, seed, v, formatOps(ops))
				shrunk, why := shrink(s, tag, ops, 25)
				if why == "" {
					shrunk, why = ops, v+" (no shorter history failed: it may depend on timing)"
				}
				t.Errorf("ledger oracle: seed %d violates an invariant: %s\nhistory (%d ops): %s\nshrunk (%d ops): %s\n  %s\nreplay: go test ./systest/oracle/ -run 'TestLedgerOracle/%s' -seed %d\n        go test ./systest/oracle/ -run 'TestLedgerOracle/%s' -seed %d -ops '%s'",
					seed, v, len(ops), formatOps(ops), len(shrunk), formatOps(shrunk), why, r, seed, r, seed, formatOps(shrunk))
			}
		})
	}
	t.Cleanup(func() { t.Log(summary()) })
}

// TestLedgerOracleLong is the long mode's announcement when it does not run.
func TestLedgerOracleLong(t *testing.T) {
	if !*long {
		skips.Skip(t, "the ledger oracle's long mode needs -long (1,000 histories: about 3.5 hours, some 5 a minute on 2 cores)", "go test ./systest/oracle/ -run TestLedgerOracle -long")
	}
}
