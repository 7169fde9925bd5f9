package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
	"rimflow/workflows"
)

// DemoTaxNo is the buyer the demo bill (and the how-to) uses; the simulator generates sample
// invoices for the bill's companyInfo.
const DemoTaxNo = "91440300MA5G9GK78Y"

// DemoStep is one line of the demo's timeline.
type DemoStep struct {
	Name    string
	Stage   workflows.Stage
	Took    time.Duration // this step
	Elapsed time.Duration // since the demo started
}

// Demo drives one bill through its whole life using only the HTTP API and the simulator's
// /__sim/ interface: start, collect URL, import in the cloud, bound, two approvals, voucher,
// completed. It writes the timeline to w as it goes and returns it.
type Demo struct {
	APIURL   string
	CloudURL string
	Token    string
	// TaxNo is the bill's enterprise (default DemoTaxNo, the ultimate edition; DemoStandardTaxNo is
	// the standard one). The bill's companyInfo is that enterprise as the registry names it.
	TaxNo  string
	BillID string        // default DEMO-<time>
	Wait   time.Duration // longest wait for one stage change (default 2m)
	// HTTP carries the demo's calls (nil: a plain client). The system tests pass the client that
	// checks every exchange with the API against its OpenAPI document (systest/testenv).
	HTTP *http.Client
}

// Run executes the demo; any failure ends it with an error naming the step.
func (d Demo) Run(ctx context.Context, w io.Writer) ([]DemoStep, error) {
	if d.BillID == "" {
		d.BillID = "DEMO-" + time.Now().Format("20060102-150405.000")
	}
	if d.Wait <= 0 {
		d.Wait = 2 * time.Minute
	}
	if d.TaxNo == "" {
		d.TaxNo = DemoTaxNo
	}
	c := newJSONClient(d.Token, d.HTTP)
	bill := d.APIURL + "/v1/bills/OA/" + url.PathEscape(d.BillID)
	start := time.Now()
	last := start
	var steps []DemoStep
	record := func(name string, stage workflows.Stage) {
		now := time.Now()
		st := DemoStep{Name: name, Stage: stage, Took: now.Sub(last), Elapsed: now.Sub(start)}
		last = now
		steps = append(steps, st)
		fmt.Fprintf(w, "  %8.2fs  %-26s %-20s (+%.2fs)\n", st.Elapsed.Seconds(), name, stage, st.Took.Seconds())
	}
	fail := func(step string, err error) ([]DemoStep, error) {
		return steps, fmt.Errorf("demo bill OA/%s, step %q: %w", d.BillID, step, err)
	}

	// 0. The enterprise, as the registry the bill is routed by describes it.
	var registry struct {
		Enterprises []enterprises.Info `json:"enterprises"`
		AnyTaxNo    bool               `json:"anyTaxNo"`
	}
	if _, err := c.do(ctx, "GET", d.APIURL+"/v1/enterprises", nil, &registry); err != nil {
		return fail("enterprise", err)
	}
	var ent enterprises.Info
	switch i := slices.IndexFunc(registry.Enterprises, func(e enterprises.Info) bool { return e.TaxNo == d.TaxNo }); {
	case i >= 0:
		ent = registry.Enterprises[i]
	case registry.AnyTaxNo:
		// No registry file: the one enterprise RIMFLOW_CLOUD_* describes (an ultimate tenant)
		// serves any tax number, as a production API without RIMFLOW_ENTERPRISES_FILE does.
		ent = enterprises.Info{TaxNo: d.TaxNo, Name: demoTaxNoName, Edition: ultimate.Name}
		if d.TaxNo != DemoTaxNo {
			ent.Name = "示例企业 " + d.TaxNo
		}
	default:
		return fail("enterprise", fmt.Errorf("tax number %s is not in the API's registry (GET /v1/enterprises)", d.TaxNo))
	}
	fmt.Fprintf(w, "demo bill OA/%s (workflow %s) of %s (%s, %s edition)\n", d.BillID, workflows.BillWorkflowID("OA", d.BillID),
		ent.Name, ent.TaxNo, ent.Edition)

	// 1. The ERP starts the bill; the API answers once the eventCode is issued.
	var started struct {
		Stage   workflows.Stage `json:"stage"`
		Collect workflows.URLs  `json:"collect"`
	}
	input := DemoBill(d.BillID)
	input.BillTaxNo, input.CompanyInfo = ent.TaxNo, []invoicecloud.Company{{TaxNo: ent.TaxNo, Name: ent.Name}}
	if _, err := c.do(ctx, "POST", d.APIURL+"/v1/bills", input, &started); err != nil {
		return fail("start", err)
	}
	record("started", started.Stage)

	// 2. A collect URL valid now (what the ERP opens for its user).
	var cu workflows.CollectURLResponse
	if _, err := c.do(ctx, "GET", bill+"/collect-url?client=pc", nil, &cu); err != nil {
		return fail("collect-url", err)
	}
	if cu.URL == "" {
		return fail("collect-url", errors.New("the answer has no url"))
	}
	// The URL really opens the cloud's invoice-assistant page.
	if err := pageOK(ctx, c, cu.URL); err != nil {
		return fail("collect-url", err)
	}
	record("collect page opens", workflows.StageCollecting)

	// 3. The user imports two invoices in the cloud's page (here: its /__sim/collect twin, which
	// finds the bill from the page's URL on either edition).
	var collected struct {
		Delivered []map[string]any `json:"delivered"`
	}
	if _, err := c.do(ctx, "POST", d.CloudURL+"/__sim/collect", map[string]any{"url": cu.URL, "count": 2}, &collected); err != nil {
		return fail("collect", err)
	}
	if len(collected.Delivered) == 0 {
		return fail("collect", errors.New("the simulator delivered no invoice"))
	}
	record(fmt.Sprintf("collected %d invoices", len(collected.Delivered)), workflows.StageCollecting)

	// 4. The worker receives them, binds them (billSave 30) and, with autoSubmit, submits.
	st, err := waitStage(ctx, c, bill, d.Wait, workflows.StageAwaitingSupervisor)
	if err != nil {
		return fail("bound", err)
	}
	for _, inv := range st.Invoices {
		if inv.Status != invoicecloud.StatusInUse {
			return fail("bound", fmt.Errorf("invoice %s has status %s, want 30 (in use)", inv.SerialNo, inv.Status))
		}
	}
	record(fmt.Sprintf("bound %d (total %s)", st.InvoiceCount, st.TotalAmount), st.Stage)

	// 5. Approvals, as the ERP reports them.
	for _, a := range []struct {
		role string
		next workflows.Stage
	}{{"supervisor", workflows.StageAwaitingFinance}, {"finance", workflows.StageAwaitingVoucher}} {
		var after workflows.BillState
		body := workflows.ApproveRequest{Role: a.role, Decision: workflows.DecisionApprove, Approver: "demo-" + a.role}
		if _, err := c.do(ctx, "POST", bill+"/approvals", body, &after); err != nil {
			return fail(a.role+" approval", err)
		}
		if after.Stage != a.next {
			if after, err = waitStage(ctx, c, bill, d.Wait, a.next); err != nil {
				return fail(a.role+" approval", err)
			}
		}
		record(a.role+" approved", after.Stage)
	}

	// 6. The voucher; the bill then completes.
	now := time.Now()
	voucher := workflows.VoucherRequest{
		VouchID: "V-" + d.BillID, VouchNo: "记-0001", AccountDate: now.Format("2006-01-02"),
		AccountTime: now.Format("2006-01-02"), BusinessDate: now.Format("2006-01-02"), Resource: "OA",
	}
	var afterVoucher workflows.BillState
	if _, err := c.do(ctx, "POST", bill+"/voucher", voucher, &afterVoucher); err != nil {
		return fail("voucher", err)
	}
	record("voucher saved", afterVoucher.Stage)
	if _, err := waitStage(ctx, c, bill, d.Wait, workflows.StageCompleted); err != nil {
		return fail("completed", err)
	}
	record("completed", workflows.StageCompleted)
	return steps, nil
}

// DemoRun is one demo enterprise's bill: its tax number, its edition, and the suffix that tells
// its bill apart from the other enterprises'.
type DemoRun struct {
	TaxNo   string
	Suffix  string
	Edition enterprises.Edition
}

// DemoRuns are the demo enterprises `devstack --demo` runs a bill on, one per edition, in order.
var DemoRuns = []DemoRun{{DemoTaxNo, "ULT", ultimate.Name}, {DemoStandardTaxNo, "STD", standard.Name}}

// RunDemos runs base on each of DemoRuns in turn; see RunDemosOn.
func RunDemos(ctx context.Context, base Demo, w io.Writer) error {
	return RunDemosOn(ctx, base, DemoRuns, w)
}

// RunDemosOn runs base on each of runs in turn (bill IDs <base.BillID or DEMO-<time>>-<suffix>),
// writing each timeline and its outcome to w. A failed demo does not stop the next; the error
// joins every failure.
func RunDemosOn(ctx context.Context, base Demo, runs []DemoRun, w io.Writer) error {
	prefix := base.BillID
	if prefix == "" {
		prefix = "DEMO-" + time.Now().Format("20060102-150405.000")
	}
	var errs []error
	for _, r := range runs {
		d := base
		d.TaxNo, d.BillID = r.TaxNo, prefix+"-"+r.Suffix
		steps, err := d.Run(ctx, w)
		if err != nil {
			fmt.Fprintf(w, "demo failed: %v\n", err)
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "demo completed in %.2fs (%d steps)\n", steps[len(steps)-1].Elapsed.Seconds(), len(steps))
	}
	return errors.Join(errs...)
}

// DemoBill is a valid bill for the simulator's sample buyer.
func DemoBill(billID string) workflows.BillInput {
	return workflows.BillInput{
		BillID:      billID,
		BillNo:      "BX-" + billID,
		BillType:    "expense",
		Resource:    "OA",
		BillTaxNo:   DemoTaxNo,
		UserID:      "demo-user",
		CompanyInfo: []invoicecloud.Company{{TaxNo: DemoTaxNo, Name: "示例科技有限公司"}},
	}
}

// WaitStage polls a bill through the HTTP API (billURL is …/v1/bills/{resource}/{billId}; token
// is the API's bearer token, "" when open) until it reaches want, for at most limit. A final
// stage other than want, or failed, ends the wait with an error.
func WaitStage(ctx context.Context, billURL, token string, limit time.Duration, want workflows.Stage) (workflows.BillState, error) {
	return waitStage(ctx, newJSONClient(token, nil), billURL, limit, want)
}

// WaitStageVia is WaitStage with its polls carried by hc (the system tests' contract-checked
// client, systest/testenv.CheckedClient).
func WaitStageVia(ctx context.Context, hc *http.Client, billURL, token string, limit time.Duration, want workflows.Stage) (workflows.BillState, error) {
	return waitStage(ctx, newJSONClient(token, hc), billURL, limit, want)
}

// waitStage is WaitStage on the caller's client.
func waitStage(ctx context.Context, c *jsonClient, billURL string, limit time.Duration, want workflows.Stage) (workflows.BillState, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var st workflows.BillState
	for {
		st = workflows.BillState{}
		_, err := c.do(ctx, "GET", billURL, nil, &st)
		if err == nil && st.Stage == want {
			return st, nil
		}
		if err == nil && (st.Stage.Final() || st.Stage == workflows.StageFailed) {
			return st, fmt.Errorf("bill ended in %s, want %s (error: %+v)", st.Stage, want, st.Error)
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, fmt.Errorf("waiting for %s: %w (last: %v)", want, ctx.Err(), err)
			}
			return st, fmt.Errorf("waiting for %s: %w (still %s)", want, ctx.Err(), st.Stage)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// pageOK fetches an HTML page and checks it answers 200 with HTML.
func pageOK(ctx context.Context, c *jsonClient, pageURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", redactQuery(pageURL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return fmt.Errorf("GET %s: HTTP %d %s, want a 200 HTML page", redactQuery(pageURL), resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return nil
}
