package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rimflow/api"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// Latency names the driver records.
const (
	LatStartToURL  = "startToUrl"  // api.Bills.Start: update-with-start until the eventCode's URL (after a 202, until collectUrl gives it)
	LatPushToBound = "pushToBound" // /__sim/collect sent → the simulator acknowledged billSave 30
	LatApprove     = "approve"     // one approve update (the successful attempt)
	LatVoucher     = "voucher"     // the voucher update
)

// TaxNo and CompanyName are the buyer every driven bill uses; the simulator generates invoices
// for it.
const (
	TaxNo       = "91440300MA5G9GK78Y"
	CompanyName = "示例科技有限公司"
)

// Driver is one ERP: it walks bills through api.Bills, the code the HTTP API and the starter
// CLI share, and imports invoices through the simulator's /__sim/collect over HTTP, as the
// user's browser would through the collect page.
type Driver struct {
	Env      *Env
	Bills    *api.Bills // nil = Env.Bills
	Resource string     // the bills' resource (≤ 10 chars); default BENCH
	Baseline bool       // the bills are BaselineWorkflow: nothing to collect
	Invoices int        // invoices imported per import (default 1)
	Timings  *Timings   // nil = none recorded
	// Tune, when set, adjusts each bill's input before it starts (options, pushType).
	Tune func(*workflows.BillInput)
	// StepTimeout bounds each step including its retries (default 2 min).
	StepTimeout time.Duration
	HTTP        *http.Client
	// ForwardAfter is how long the ERP waits for an import to be bound before it forwards its own
	// copy of those invoices (POST …/invoices, the vendor's browser socket); 0 = never. Only a
	// delivery the cloud handed to a receiver that died before reporting it needs this (see
	// systest/resilience/README.md, "What a crash can lose"); Forwarded counts the forwards.
	ForwardAfter time.Duration
	Forwarded    atomic.Int64
	// ThinkTime is how long the user spends on the collect page before importing (default 0).
	// Fault tests set it so the worker's socket is open long enough to be dropped.
	ThinkTime time.Duration

	mu        sync.Mutex
	imported  map[string][]string // billID → every serialNo its user imported, in order
	forwarded map[string]int      // billID → forwards
}

func (d *Driver) bills() *api.Bills {
	if d.Bills != nil {
		return d.Bills
	}
	return d.Env.Bills
}

func (d *Driver) resource() string {
	if d.Resource == "" {
		return "BENCH"
	}
	return d.Resource
}

func (d *Driver) stepCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := d.StepTimeout
	if t <= 0 {
		t = 2 * time.Minute
	}
	return context.WithTimeout(ctx, t)
}

// Input is the bill billID as the ERP starts it.
func (d *Driver) Input(billID string) workflows.BillInput {
	in := workflows.BillInput{
		BillID: billID, BillNo: "BX-" + billID, BillType: "expense", Resource: d.resource(),
		BillTaxNo: TaxNo, UserID: "bench-user",
		CompanyInfo: []invoicecloud.Company{{TaxNo: TaxNo, Name: CompanyName}},
	}
	if d.Tune != nil {
		d.Tune(&in)
	}
	return in
}

// Ref names the bill.
func (d *Driver) Ref(billID string) api.BillRef {
	return api.BillRef{Resource: d.resource(), BillID: billID}
}

// Life runs a bill's whole life: start, collect, bound, two approvals, voucher, completed.
func (d *Driver) Life(ctx context.Context, billID string) error {
	if err := d.Park(ctx, billID); err != nil {
		return err
	}
	return d.Drain(ctx, billID)
}

// Park starts the bill and imports its invoices; it returns once they are bound.
func (d *Driver) Park(ctx context.Context, billID string) error {
	start, err := d.Start(ctx, billID)
	if err != nil {
		return err
	}
	if d.Baseline {
		return nil
	}
	return d.Collect(ctx, billID, start.Collect.PC)
}

// Drain approves the parked bill for supervisor and finance, saves the voucher and waits until
// the workflow has completed.
func (d *Driver) Drain(ctx context.Context, billID string) error {
	for _, role := range []string{"supervisor", "finance"} {
		if err := d.Approve(ctx, billID, role); err != nil {
			return err
		}
	}
	if err := d.Voucher(ctx, billID); err != nil {
		return err
	}
	st, err := d.WaitEnd(ctx, billID)
	if err != nil {
		return err
	}
	if st.Stage != workflows.StageCompleted {
		return fmt.Errorf("bill %s ended in %s, want completed", billID, st.Stage)
	}
	return nil
}

// Start starts the bill (retrying what a restart or an outage makes transient) and returns the
// API's answer with the collect URL.
func (d *Driver) Start(ctx context.Context, billID string) (api.StartResponse, error) {
	var resp api.StartResponse
	var began time.Time // of the start that succeeded, as retry times it
	err := d.retry(ctx, "start "+billID, "", func(ctx context.Context) error {
		var err error
		began = time.Now()
		resp, _, err = d.bills().Start(ctx, d.Input(billID))
		return err
	})
	if err == nil && resp.Pending != nil {
		// Answered before its eventCode was issued (202: the cloud or the worker was slow, or
		// gone): the ERP asks for the collect URL, as the answer says; the wait counts.
		resp.Collect.PC, err = d.CollectURL(ctx, billID)
	}
	if err == nil {
		d.Timings.Add(LatStartToURL, time.Since(began))
	}
	return resp, err
}

// Collect imports d.Invoices invoices for the eventCode in collectURL through /__sim/collect and
// waits until the simulator has acknowledged their bind.
func (d *Driver) Collect(ctx context.Context, billID, collectURL string) error {
	_, err := d.Import(ctx, billID, collectURL, 0)
	return err
}

// Import is Collect of n invoices (0 = d.Invoices) answering their serialNos. It waits until a successful bind (billSave
// 30) has named every one of them; with ForwardAfter set, the ERP forwards its copy once if they
// are not bound by then.
func (d *Driver) Import(ctx context.Context, billID, collectURL string, n int) ([]string, error) {
	code := EventCodeOf(collectURL)
	if code == "" {
		return nil, fmt.Errorf("bill %s: no eventCode in the collect URL", billID)
	}
	if n <= 0 {
		n = max(d.Invoices, 1)
	}
	if d.ThinkTime > 0 {
		select {
		case <-time.After(d.ThinkTime):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ctx, cancel := d.stepCtx(ctx)
	defer cancel()
	sent := time.Now()
	var res struct {
		Delivered []json.RawMessage `json:"delivered"`
	}
	if err := d.postSim(ctx, "/__sim/collect", map[string]any{"eventCode": code, "count": n}, &res); err != nil {
		return nil, fmt.Errorf("bill %s: collect: %w", billID, err)
	}
	if len(res.Delivered) != n {
		return nil, fmt.Errorf("bill %s: the simulator delivered %d invoices, want %d", billID, len(res.Delivered), n)
	}
	invs := make([]invoicecloud.Invoice, n)
	serials := make([]string, n)
	for i, raw := range res.Delivered {
		if err := json.Unmarshal(raw, &invs[i]); err != nil || invs[i].SerialNo == "" {
			return nil, fmt.Errorf("bill %s: delivered invoice %d unreadable (%v): %.200s", billID, i, err, raw)
		}
		serials[i] = invs[i].SerialNo
	}
	d.mu.Lock()
	if d.imported == nil {
		d.imported = map[string][]string{}
	}
	d.imported[billID] = append(d.imported[billID], serials...)
	d.mu.Unlock()

	wait := func(ctx context.Context) (time.Time, error) {
		return d.Env.Tap.WaitSerials(ctx, d.resource(), billID, serials)
	}
	if d.ForwardAfter > 0 {
		wctx, wcancel := context.WithTimeout(ctx, d.ForwardAfter)
		bound, err := wait(wctx)
		wcancel()
		if err == nil {
			d.Timings.Add(LatPushToBound, bound.Sub(sent))
			return serials, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bill %s: waiting for the bind (billSave 30) of %v: %w", billID, serials, ctx.Err())
		}
		// Not bound within ForwardAfter: the ERP forwards its browser socket's copy.
		if err := d.retry(ctx, "forward the invoices of "+billID, "", func(ctx context.Context) error {
			_, err := d.bills().Invoices(ctx, d.Ref(billID), workflows.InvoicesSignal{InvoiceData: invs})
			return err
		}); err != nil {
			return nil, err
		}
		d.Forwarded.Add(1)
		d.mu.Lock()
		if d.forwarded == nil {
			d.forwarded = map[string]int{}
		}
		d.forwarded[billID]++
		d.mu.Unlock()
		if _, err := wait(ctx); err != nil {
			return nil, fmt.Errorf("bill %s: waiting for the bind of the forwarded %v: %w", billID, serials, err)
		}
		return serials, nil
	}
	bound, err := wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("bill %s: waiting for the bind (billSave 30) of %v: %w", billID, serials, err)
	}
	d.Timings.Add(LatPushToBound, bound.Sub(sent))
	return serials, nil
}

// Imported is every serialNo the bill's user imported, in order.
func (d *Driver) Imported(billID string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.imported[billID])
}

// ForwardedBills are the bills whose invoices the ERP had to forward (ForwardAfter), with how often.
func (d *Driver) ForwardedBills() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.forwarded)
}

// CollectURL asks the bill for a collect URL valid now (PC page).
func (d *Driver) CollectURL(ctx context.Context, billID string) (string, error) {
	var url string
	err := d.retry(ctx, "collect URL of "+billID, "", func(ctx context.Context) error {
		res, err := d.bills().CollectURL(ctx, d.Ref(billID), "pc")
		url = res.URL
		if err == nil && url == "" {
			return fmt.Errorf("no collect URL (the bill is not collecting)")
		}
		return err
	})
	return url, err
}

// Submit submits the collected invoices (autoSubmit off). An answer lost to a restart is
// recognised by the bill having moved on, submitted.
func (d *Driver) Submit(ctx context.Context, billID string) error {
	return d.retry(ctx, "submit of "+billID, "", func(ctx context.Context) error {
		_, err := d.bills().Submit(ctx, d.Ref(billID), workflows.SubmitRequest{By: "bench-user"})
		if err != nil {
			if st, serr := d.bills().State(ctx, d.Ref(billID)); serr == nil && st.Submitted && st.Stage != workflows.StageCollecting {
				return nil
			}
		}
		return err
	})
}

// Approve approves for role. A bill that has not reached the role's stage yet answers 409 and
// is asked again; a decision already recorded (an answer lost to a restart) counts as done.
func (d *Driver) Approve(ctx context.Context, billID, role string) error {
	return d.Decide(ctx, billID, role, workflows.DecisionApprove)
}

// Decide records role's decision (approve, reject, return) as Approve does.
func (d *Driver) Decide(ctx context.Context, billID, role, decision string) error {
	req := workflows.ApproveRequest{Role: role, Decision: decision, Approver: "bench-" + role}
	lat := ""
	if decision == workflows.DecisionApprove {
		lat = LatApprove
	}
	return d.retry(ctx, role+" "+decision+" of "+billID, lat, func(ctx context.Context) error {
		_, err := d.bills().Approve(ctx, d.Ref(billID), req)
		if err != nil && strings.Contains(err.Error(), "already decided") {
			return nil
		}
		if err != nil && d.decided(ctx, billID, req) {
			return nil // recorded while the answer was lost (a return moved the bill on, a reject ended it)
		}
		return err
	})
}

// decided: the bill's latest decision is req's.
func (d *Driver) decided(ctx context.Context, billID string, req workflows.ApproveRequest) bool {
	st, err := d.bills().State(ctx, d.Ref(billID))
	if err != nil || len(st.Approvals) == 0 {
		return false
	}
	last := st.Approvals[len(st.Approvals)-1]
	return last.Role == req.Role && last.Decision == req.Decision && last.Approver == req.Approver
}

// Voucher writes the voucher back; a voucher already saved counts as done.
func (d *Driver) Voucher(ctx context.Context, billID string) error {
	today := time.Now().Format(time.DateOnly)
	req := workflows.VoucherRequest{VouchID: "V-" + billID, VouchNo: "记-" + billID, AccountDate: today,
		AccountTime: today, BusinessDate: today, Resource: d.resource()}
	return d.retry(ctx, "voucher of "+billID, LatVoucher, func(ctx context.Context) error {
		st, err := d.bills().Voucher(ctx, d.Ref(billID), req)
		if err == nil && st.Voucher == nil && st.Stage != workflows.StageCompleted {
			return fmt.Errorf("voucher not recorded (stage %s)", st.Stage)
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) && apiErr.Code == api.CodeAlreadyFinished {
			return nil // completed while the answer was lost
		}
		if err != nil && strings.Contains(err.Error(), "in stage "+string(workflows.StageCompleted)) {
			return nil
		}
		return err
	})
}

// WaitEnd waits for the workflow's result (its final state) with a long poll.
func (d *Driver) WaitEnd(ctx context.Context, billID string) (workflows.BillState, error) {
	var st workflows.BillState
	err := d.retry(ctx, "result of "+billID, "", func(ctx context.Context) error {
		return d.Env.Client.GetWorkflow(ctx, d.Ref(billID).WorkflowID(), "").Get(ctx, &st)
	})
	return st, err
}

// retry runs op until it succeeds, a permanent error (bad input, no such bill) or the step
// timeout; lat names the latency to record for the successful attempt ("" = none).
func (d *Driver) retry(ctx context.Context, what, lat string, op func(context.Context) error) error {
	ctx, cancel := d.stepCtx(ctx)
	defer cancel()
	backoff := 10 * time.Millisecond
	var last error
	for {
		began := time.Now()
		err := op(ctx)
		if err == nil {
			if lat != "" {
				d.Timings.Add(lat, time.Since(began))
			}
			return nil
		}
		last = err
		if status := api.ErrorFrom(err).Status; status == http.StatusBadRequest {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up after %s: %w", what, d.StepTimeout, last)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (d *Driver) postSim(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Env.CloudURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := d.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// EventCodeOf reads the eventCode query parameter of a collect URL.
func EventCodeOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Query().Get("eventCode")
}
