package invoicecloud_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/aesecb"
)

// countingBody is a request body that counts what the receiver read of it.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// sealPush encrypts a push for the enterprise as the cloud does [assumed scheme, push.go], with
// invoices and, when pad > 0, an attachment note of pad bytes to make it large.
func sealPush(t *testing.T, e invoicecloud.PushEnterprise, key string, invoices, pad int) string {
	t.Helper()
	inv := make([]map[string]any, invoices)
	for i := range inv {
		inv[i] = map[string]any{"serialNo": "S-" + strings.Repeat("0", 8) + string(rune('a'+i%26)), "invoiceNo": "0001", "totalAmount": "10.00",
			"buyerTaxNo": e.TaxNo, "buyerName": e.Name, "items": []map[string]any{{"name": strings.Repeat("办公用品", 40)}}}
	}
	plain, err := json.Marshal(map[string]any{"msgId": "m-large", "timestamp": time.Now().UnixMilli(), "client_id": e.ClientID,
		"tin": e.TaxNo, "eventType": "push-invoice", "bxd_key": "B-1", "billNumber": "BX-1", "resource": "OA",
		"data": map[string]any{"data": inv, "attachData": []map[string]any{{"attachName": strings.Repeat("x", pad)}}}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := aesecb.Encrypt(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestPushReadsLittleBeforeTheKeyOpensIt: the receiver reads nothing of a push for an enterprise
// it does not know, at most MaxPushUnopenedBytes of one whose start the enterprise's key does not
// open (another key, or no ciphertext at all), and a push the key opens up to MaxPushBytes: a
// large real push is delivered whole, a larger one refused naming the body.
func TestPushReadsLittleBeforeTheKeyOpensIt(t *testing.T) {
	ent := pushEnterprise()
	recv, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{ent}})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(taxNo, body string) (status int, answer string, read int, delivered []invoicecloud.Push) {
		t.Helper()
		cb := &countingBody{r: strings.NewReader(body)}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/push/"+taxNo, nil)
		req.Body = cb
		rec := httptest.NewRecorder()
		recv.Serve(rec, req, taxNo, func(_ context.Context, p invoicecloud.Push) error {
			delivered = append(delivered, p)
			return nil
		})
		return rec.Code, rec.Body.String(), cb.read, delivered
	}

	large := sealPush(t, ent, ent.EncryptKey, 300, 0)
	if len(large) <= 2*invoicecloud.MaxPushUnopenedBytes {
		t.Fatalf("the large push is only %d bytes: make it larger than the unopened bound several times", len(large))
	}
	for _, c := range []struct {
		name, taxNo, body string
		maxRead           int
		field             string
	}{
		{"an unknown enterprise", "91110000MA01N7PE9X", large, 0, "taxNo"},
		{"another key", ent.TaxNo, sealPush(t, ent, "WRONGKEY-0123456", 300, 0), invoicecloud.MaxPushUnopenedBytes + 1, "encryptKey"},
		{"not ciphertext", ent.TaxNo, strings.Repeat("A", 8<<20), invoicecloud.MaxPushUnopenedBytes + 1, "encryptKey"},
		{"not Base64", ent.TaxNo, strings.Repeat("{}", 4<<20), invoicecloud.MaxPushUnopenedBytes + 1, "encryptKey"},
	} {
		status, answer, read, delivered := serve(c.taxNo, c.body)
		if status != http.StatusUnauthorized || !strings.Contains(answer, c.field+":") || len(delivered) != 0 {
			t.Errorf("%s: HTTP %d %s (%d delivered); want 401 naming %s", c.name, status, answer, len(delivered), c.field)
		}
		if read > c.maxRead {
			t.Errorf("%s: read %d bytes before refusing; at most %d", c.name, read, c.maxRead)
		}
	}

	status, answer, read, delivered := serve(ent.TaxNo, large)
	if status != http.StatusOK || len(delivered) != 1 || len(delivered[0].Message.InvoiceData) != 300 || read != len(large) {
		t.Fatalf("a large push the key opens: HTTP %d %s, read %d of %d, delivered %d", status, answer, read, len(large), len(delivered))
	}

	tooLarge := sealPush(t, ent, ent.EncryptKey, 1, invoicecloud.MaxPushBytes*3/4+1024)
	status, answer, read, delivered = serve(ent.TaxNo, tooLarge)
	if status != http.StatusBadRequest || !strings.Contains(answer, "body:") || len(delivered) != 0 {
		t.Fatalf("a push over %d bytes: HTTP %d %.200s (%d delivered); want 400 naming the body", invoicecloud.MaxPushBytes, status, answer, len(delivered))
	}
	if read > invoicecloud.MaxPushBytes+1 {
		t.Fatalf("read %d bytes of a push over the bound %d", read, invoicecloud.MaxPushBytes)
	}
}
