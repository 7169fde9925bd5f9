package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"rimflow/invoicecloud/aesecb"
)

// AWS收票推送 (docs/invoicecloud.md, "The standard edition's guide": 收票配置): per standard tenant, push addresses (name, tax number, client id, URL).
// When the user imports invoices into one of the tenant's bills, the simulator POSTs them to
// every address and retries with backoff until it gets a success answer (at least once: a lost
// answer means a duplicate). The scheme is [assumed] (documented in docs/cloudsim.md):
//
//	POST <url>, Content-Type text/plain;charset=UTF-8
//	body = Base64(AES-128-ECB(encrypt_key, JSON)), PKCS#7
//	JSON = {"msgId","timestamp"(ms),"client_id","tin","ghf_mc","eventType":"push-invoice",
//	        "bxd_key","billNumber","resource","data":{"data":[…],"attachData":[…],
//	        "invoicesAmount","invoicesTaxAmount"}}
//	success = HTTP 2xx with {"errcode":"0000"}; every attempt carries the same msgId and body.

type pushState struct {
	records []*pushRecord
	wg      sync.WaitGroup // running push loops (Close waits for them)
}

func newPushState() *pushState { return &pushState{} }

type pushRecord struct {
	view PushView
	body []byte
}

// PushView is one push in GET /__sim/pushes.
type PushView struct {
	MsgID       string     `json:"msgId"`
	Tenant      string     `json:"tenant"`
	TaxNo       string     `json:"taxNo"`
	Name        string     `json:"name"`
	URL         string     `json:"url"`
	Resource    string     `json:"resource"`
	BillID      string     `json:"billId"`
	SerialNos   []string   `json:"serialNos"`
	Attempts    int        `json:"attempts"`
	Delivered   bool       `json:"delivered"`
	LastError   string     `json:"lastError,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
}

// push starts the pushes of delivery d for bill b; caller holds s.mu.
func (s *Sim) push(b *bill, d *delivery) {
	t := b.tenant
	if t == nil || len(t.Push) == 0 || s.closed {
		return
	}
	payload := pollPayload(d)["data"].(map[string]any)["data"].(map[string]any)["data"]
	serials := make([]string, 0, len(d.invoices))
	for _, inv := range d.invoices {
		serials = append(serials, inv.SerialNo)
	}
	for _, target := range t.Push {
		plain, err := json.Marshal(map[string]any{
			"msgId": d.msgID, "timestamp": s.Now().UnixMilli(), "client_id": t.ClientID, "tin": t.TaxNo,
			"ghf_mc": t.Name, "eventType": "push-invoice", "bxd_key": b.key.BillID, "billNumber": b.billNo,
			"resource": b.key.Resource, "data": payload,
		})
		if err != nil {
			continue
		}
		body, err := aesecb.Encrypt(t.EncryptKey, plain)
		if err != nil {
			continue // Validate guarantees a 16-character key
		}
		rec := &pushRecord{body: []byte(body), view: PushView{MsgID: d.msgID, Tenant: t.Name, TaxNo: t.TaxNo, Name: target.Name,
			URL: target.URL, Resource: b.key.Resource, BillID: b.key.BillID, SerialNos: serials, CreatedAt: s.Now()}}
		s.pushes.records = append(s.pushes.records, rec)
		s.stats.PushesQueued++
		s.pushes.wg.Add(1)
		go s.pushLoop(rec)
	}
}

// pushLoop POSTs rec until it is answered with success or the simulator closes; the delay
// between attempts doubles from PushRetryMin up to PushRetryMax.
func (s *Sim) pushLoop(rec *pushRecord) {
	defer s.pushes.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	delay := s.opts.PushRetryMin
	for {
		err := pushOnce(ctx, client, rec.view.URL, rec.body)
		s.mu.Lock()
		rec.view.Attempts++
		s.stats.PushAttempts++
		if err == nil {
			now := s.Now()
			rec.view.Delivered, rec.view.DeliveredAt, rec.view.LastError = true, &now, ""
			s.stats.PushesDelivered++
		} else {
			rec.view.LastError = err.Error()
			s.stats.PushFailures++
		}
		s.mu.Unlock()
		if err == nil {
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, s.opts.PushRetryMax)
	}
}

// errPushRefused is an answer that is not {"errcode":"0000"}.
type errPushRefused struct{ status int }

func (e errPushRefused) Error() string {
	return "answered HTTP " + http.StatusText(e.status) + " without errcode 0000"
}

func pushOnce(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a struct {
		Errcode flexString `json:"errcode"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &a) != nil || a.Errcode.trim() != stdOK {
		return errPushRefused{resp.StatusCode}
	}
	return nil
}

// Pushes lists every push so far, oldest first.
func (s *Sim) Pushes() []PushView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PushView, 0, len(s.pushes.records))
	for _, r := range s.pushes.records {
		v := r.view
		v.SerialNos = slices.Clone(v.SerialNos)
		out = append(out, v)
	}
	return out
}

func (s *Sim) simPushes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"pushes": s.Pushes()})
}
