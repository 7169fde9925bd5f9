package apiit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"rimflow/activities/calls"
	"rimflow/api"
	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/aesecb"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// pushRecorder sits in front of the API and keeps every push body the simulator sends.
type pushRecorder struct {
	next   http.Handler
	mu     sync.Mutex
	bodies [][]byte
}

func (p *pushRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/push/") {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, body)
		p.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	p.next.ServeHTTP(w, r)
}

func (p *pushRecorder) recorded() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.bodies...)
}

// TestPushRoute: POST /v1/push/{taxNo}, the address the cloud pushes collected invoices to
// (AWS收票推送), on the devstack's two enterprises: the simulator's standard tenant pushes its
// imports there, the API behind a bearer token (which the push does not carry). The route refuses
// an unknown enterprise, a body that does not decrypt with the enterprise's key and a stale
// timestamp, each naming the field, and records nothing for them; the simulator's real push is
// recorded in its bill, and the same push again (its msgId) answers success without a second
// delivery.
func TestPushRoute(t *testing.T) {
	ts := harness.NewTestServer(t)
	c := ts.GetDefaultClient()
	rec := &pushRecorder{}
	front := httptest.NewUnstartedServer(rec)
	apiURL := "http://" + front.Listener.Addr().String()
	cloud := harness.NewCloud(t, simulator.Options{Seed: 9, Tenants: harness.DemoTenants(apiURL),
		PushRetryMin: 50 * time.Millisecond, PushRetryMax: 200 * time.Millisecond}, nil)
	var std simulator.Tenant
	for _, tn := range cloud.Sim.Options().Tenants {
		if tn.Edition == simulator.EditionStandard {
			std = tn
		}
	}
	reg, err := enterprises.New(harness.DemoEnterprises(cloud.URL, cloud.Sim.Options()), enterprises.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := app.NewWorker(c, reg, app.WorkerOptions{TaskQueue: workflows.DefaultTaskQueue})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	const token = "push-route-test-token"
	metricsReg := prometheus.NewRegistry()
	rec.next = apiHandler(t, api.Options{Client: c, Namespace: ts.GetDefaultNamespace(), TaskQueue: workflows.DefaultTaskQueue,
		Token: token, Enterprises: reg, Registry: metricsReg})
	front.Start()
	t.Cleanup(front.Close)

	in := workflows.BillInput{BillID: "PR-1", BillNo: "BX-PR-1", BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: std.TaxNo, UserID: "u-7", CompanyInfo: []invoicecloud.Company{{TaxNo: std.TaxNo, Name: std.Name}}}
	status, raw := testenv.Do(t, t.Context(), http.MethodPost, apiURL+"/v1/bills", token, in)
	var started api.StartResponse
	if status != http.StatusCreated || json.Unmarshal(raw, &started) != nil {
		t.Fatalf("start a bill of the standard enterprise: HTTP %d %.300s", status, raw)
	}
	ref := api.BillRef{Resource: in.Resource, BillID: in.BillID}
	// A bill of the other (ultimate) enterprise, which the standard enterprise's key must not feed.
	ult := simulator.Tenant{TaxNo: harness.DemoTaxNo, Name: "金蝶票据云科技(深圳)有限公司"}
	other := workflows.BillInput{BillID: "PR-U", BillNo: "BX-PR-U", BillType: "er_dailyreimbursebill", Resource: "OA",
		BillTaxNo: ult.TaxNo, UserID: "u-7", CompanyInfo: []invoicecloud.Company{{TaxNo: ult.TaxNo, Name: ult.Name}}}
	if status, raw := testenv.Do(t, t.Context(), http.MethodPost, apiURL+"/v1/bills", token, other); status != http.StatusCreated {
		t.Fatalf("start a bill of the ultimate enterprise: HTTP %d %.300s", status, raw)
	}
	otherRef := api.BillRef{Resource: other.Resource, BillID: other.BillID}

	// push posts a body as the cloud does: text/plain, no bearer token.
	push := func(taxNo string, body []byte) (int, api.PushAnswer) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, apiURL+"/v1/push/"+taxNo, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		resp, err := testenv.CheckedClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a api.PushAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("push answer: HTTP %d, not JSON: %v", resp.StatusCode, err)
		}
		return resp.StatusCode, a
	}
	// envelope is a push as the cloud encrypts it [assumed scheme, invoicecloud/push.go]; sealed
	// names the bill and carries invoices.
	var sealed func(key, msgID string, sent time.Time, billID string, invoices []any) []byte
	envelope := func(key, msgID string, sent time.Time) []byte {
		t.Helper()
		return sealed(key, msgID, sent, in.BillID, []any{})
	}
	sealed = func(key, msgID string, sent time.Time, billID string, invoices []any) []byte {
		t.Helper()
		plain, err := json.Marshal(map[string]any{"msgId": msgID, "timestamp": sent.UnixMilli(), "client_id": std.ClientID,
			"tin": std.TaxNo, "ghf_mc": std.Name, "eventType": "push-invoice", "bxd_key": billID, "billNumber": in.BillNo,
			"resource": in.Resource, "data": map[string]any{"data": invoices, "attachData": []any{}}})
		if err != nil {
			t.Fatal(err)
		}
		body, err := aesecb.Encrypt(key, plain)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(body)
	}

	for _, refusal := range []struct {
		name, taxNo string
		body        []byte
		status      int
		field, code string
	}{
		{"unknown enterprise", "91110000MA01N7PE9X", envelope(std.EncryptKey, "m-unknown", time.Now()), http.StatusUnauthorized, "taxNo", ""},
		{"wrong key", std.TaxNo, envelope("WRONGKEY-0123456", "m-wrong-key", time.Now()), http.StatusUnauthorized, "encryptKey",
			invoicecloud.PushCodeUndecryptable},
		{"stale timestamp", std.TaxNo, envelope(std.EncryptKey, "m-stale", time.Now().Add(-invoicecloud.DefaultPushMaxAge-time.Minute)),
			http.StatusBadRequest, "timestamp", invoicecloud.PushCodeStale},
		// The enterprise's own key, about a bill of the other enterprise or about no bill: the same refusal.
		{"another enterprise's bill", std.TaxNo, sealed(std.EncryptKey, "m-other-bill", time.Now(), other.BillID,
			[]any{invoiceOf("S-PR-U1", ult.TaxNo, ult.Name)}), http.StatusForbidden, "bxd_key", invoicecloud.PushCodeWrongEnterprise},
		{"no such bill", std.TaxNo, sealed(std.EncryptKey, "m-no-bill", time.Now(), "PR-NONE",
			[]any{invoiceOf("S-PR-N1", std.TaxNo, std.Name)}), http.StatusForbidden, "bxd_key", invoicecloud.PushCodeWrongEnterprise},
		// Its own bill, with an invoice whose buyer is not the bill's company: the forward's buyer check.
		{"a buyer not the bill's", std.TaxNo, sealed(std.EncryptKey, "m-buyer", time.Now(), in.BillID,
			[]any{invoiceOf("S-PR-B1", std.TaxNo, std.Name), invoiceOf("S-PR-B2", ult.TaxNo, ult.Name)}),
			http.StatusBadRequest, "data.data[1].buyerTaxNo", ""},
	} {
		status, a := push(refusal.taxNo, refusal.body)
		if status != refusal.status || a.ErrCode == "0000" || (refusal.code != "" && a.ErrCode != refusal.code) ||
			!strings.Contains(a.Description, refusal.field+":") {
			t.Errorf("%s: HTTP %d %+v; want %d naming %s (errcode %q)", refusal.name, status, a, refusal.status, refusal.field, refusal.code)
		}
		if strings.Contains(a.Description, std.EncryptKey) {
			t.Errorf("%s: the answer shows the encrypt_key", refusal.name)
		}
	}
	if got, gotOther := pushSignals(t, c, ref), pushSignals(t, c, otherRef); len(got)+len(gotOther) != 0 {
		t.Fatalf("%d refused pushes reached the bill, %d the other enterprise's", len(got), len(gotOther))
	}

	// The simulator pushes what the user imports; the bill records it before the answer.
	sentByTest := len(rec.recorded())
	serials := testenv.CollectOnPage(t, t.Context(), cloud.URL, started.Collect.PC, 2)
	deadline := time.Now().Add(time.Minute)
	for !pushDelivered(cloud.Sim, ref) {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator's push was not answered success within a minute: %+v", cloud.Sim.Pushes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	bodies := rec.recorded()[sentByTest:]
	// A signal that arrives while the bill runs a workflow task is written to its history when the
	// task completes: wait for it to show.
	first := pushSignals(t, c, ref)
	for len(first) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		first = pushSignals(t, c, ref)
	}
	if len(bodies) != 1 || len(first) != 1 || len(first[0].InvoiceData) != len(serials) {
		t.Fatalf("%d pushes from the simulator, %d delivery signals via push; want one push, recorded once with %d invoices",
			len(bodies), len(first), len(serials))
	}

	// The same push again (the cloud lost the answer): success, no second delivery.
	if status, a := push(std.TaxNo, bodies[0]); status != http.StatusOK || a.ErrCode != "0000" {
		t.Fatalf("the push again: HTTP %d %+v; want 200 errcode 0000", status, a)
	}
	if got := pushSignals(t, c, ref); len(got) != 1 {
		t.Fatalf("after the push again the bill holds %d push deliveries, want 1", len(got))
	}
	st := waitPushBound(t, apiURL+"/v1/bills/"+ref.ID(), token, len(serials))
	viaPush := 0
	for _, d := range st.Deliveries {
		if d.Via == workflows.ViaPush {
			viaPush++
		}
	}
	if viaPush != 1 {
		t.Errorf("the bill lists %d deliveries via push, want 1: %+v", viaPush, st.Deliveries)
	}

	// TestPushForNoBill: the bill is cancelled, and the user imports again on its page, still open
	// at the cloud. No running bill can take that push: it is answered success at its first
	// attempt (before, 503 for ever: the cloud pushed it again and again) and counted for ops. A
	// push naming a bill nobody started is still refused as another enterprise's bill is (403, so a
	// push cannot probe for bills), and not counted as no_bill.
	if status, raw := testenv.Do(t, t.Context(), http.MethodPost, apiURL+"/v1/bills/"+ref.ID()+"/cancel", token,
		workflows.CancelRequest{Reason: "test over", By: "erp"}); status != http.StatusOK {
		t.Fatalf("cancel: HTTP %d %.300s", status, raw)
	}
	if err := c.GetWorkflow(t.Context(), ref.WorkflowID(), "").Get(t.Context(), nil); err != nil {
		t.Fatalf("the bill did not end: %v", err)
	}
	late := testenv.CollectOnPage(t, t.Context(), cloud.URL, started.Collect.PC, 1)
	var latePush simulator.PushView
	deadline = time.Now().Add(time.Minute)
	for latePush.MsgID == "" {
		for _, p := range cloud.Sim.Pushes() {
			if p.BillID == ref.BillID && slices.Equal(p.SerialNos, late) && p.Delivered {
				latePush = p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the push for the ended bill was not answered success within a minute: %+v", cloud.Sim.Pushes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if latePush.Attempts != 1 {
		t.Errorf("the push for the ended bill took %d attempts, want 1", latePush.Attempts)
	}
	plain, _ := json.Marshal(map[string]any{"msgId": "m-nobody", "timestamp": time.Now().UnixMilli(), "client_id": std.ClientID,
		"tin": std.TaxNo, "ghf_mc": std.Name, "eventType": "push-invoice", "bxd_key": "PR-NOBODY", "billNumber": "BX-PR-NOBODY",
		"resource": in.Resource, "data": map[string]any{"data": []any{map[string]any{"serialNo": "NOBODY-1", "invoiceType": "26",
			"invoiceAmount": "10.00", "totalTaxAmount": "0.60", "totalAmount": "10.60"}}, "attachData": []any{}}})
	unknown, err := aesecb.Encrypt(std.EncryptKey, plain)
	if err != nil {
		t.Fatal(err)
	}
	if status, a := push(std.TaxNo, []byte(unknown)); status != http.StatusForbidden || a.ErrCode != invoicecloud.PushCodeWrongEnterprise {
		t.Fatalf("a push for a bill nobody started: HTTP %d %+v; want 403 errcode %s", status, a, invoicecloud.PushCodeWrongEnterprise)
	}
	if got := counterValue(t, metricsReg, "rimflow_pushes_total", map[string]string{"enterprise": std.TaxNo, "outcome": "no_bill"}); got != 1 {
		t.Errorf("rimflow_pushes_total{outcome=no_bill} = %v, want 1 (the ended bill's)", got)
	}
}

// counterValue reads one counter of reg by its labels (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// invoiceOf is a pushed invoice record bought by the company taxNo, name.
func invoiceOf(serialNo, taxNo, name string) map[string]any {
	return map[string]any{"serialNo": serialNo, "invoiceType": "26", "invoiceNo": "24440000000000001234", "invoiceDate": "2026-11-20",
		"invoiceAmount": "100.00", "totalTaxAmount": "6.00", "totalAmount": "106.00", "salerName": "深圳市某某科技有限公司",
		"salerTaxNo": "91440300MA5FAKE01X", "buyerTaxNo": taxNo, "buyerName": name}
}

// pushDelivered: the simulator's push for the bill was answered success.
func pushDelivered(sim *simulator.Sim, ref api.BillRef) bool {
	for _, p := range sim.Pushes() {
		if p.Resource == ref.Resource && p.BillID == ref.BillID && p.Delivered {
			return true
		}
	}
	return false
}

// pushSignals are the bill's delivery signals that came by push.
func pushSignals(t *testing.T, c client.Client, ref api.BillRef) []calls.Delivery {
	t.Helper()
	var out []calls.Delivery
	for _, d := range testenv.DeliverySignals(t, t.Context(), c, ref.WorkflowID()) {
		if d.Via == workflows.ViaPush {
			out = append(out, d)
		}
	}
	return out
}

// waitPushBound polls the bill over the API until n invoices are bound and it lists its
// deliveries.
func waitPushBound(t *testing.T, url, token string, n int) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st workflows.BillState
		status, raw := testenv.Do(t, t.Context(), http.MethodGet, url, token, nil)
		if status == http.StatusOK && json.Unmarshal(raw, &st) == nil && st.InvoiceCount == n && len(st.Deliveries) > 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bill did not bind %d invoices within 90 s: HTTP %d %.500s", n, status, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
