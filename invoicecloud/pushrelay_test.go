package invoicecloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"rimflow/invoicecloud"
)

// A recorded push relayed long after the cloud sent it: sealed again with a fresh timestamp it is
// taken by a receiver with the usual MaxAge, as the same push (msgId, bill, invoices); SendPush
// reports success only for the success answer.
func TestPushSealedAgainAndSent(t *testing.T) {
	sink := newPushSink(t, invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()}}, 0)
	h := pushHarness(t, sink)
	c := h.standard(nil)
	h.collect(eventCode(t, c, newBill("poll")), 2)
	if got := sink.next(t); got != http.StatusOK {
		t.Fatalf("push: HTTP %d", got)
	}
	delivered, _ := sink.snapshot()
	orig := delivered[0]

	later := time.Now().Add(invoicecloud.DefaultPushMaxAge + time.Hour)
	body, err := invoicecloud.SealPush(pushEnterprise(), orig.Plain, later)
	if err != nil {
		t.Fatal(err)
	}
	image, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: []invoicecloud.PushEnterprise{pushEnterprise()},
		Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	p, err := image.Open(buyerTaxNo, []byte(body))
	if err != nil {
		t.Fatalf("the relayed push: %v", err)
	}
	serials := func(p invoicecloud.Push) []string {
		var out []string
		for _, inv := range p.Message.InvoiceData {
			out = append(out, inv.SerialNo)
		}
		return out
	}
	if p.MsgID != orig.MsgID || p.BillID != orig.BillID || p.Resource != orig.Resource || !p.Sent.Equal(later.Truncate(time.Millisecond)) ||
		len(serials(p)) != 2 || !slices.Equal(serials(p), serials(orig)) {
		t.Fatalf("relayed %+v, want the same push as %+v sent at %v", p, orig, later)
	}

	var delivers []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		image.Serve(w, r, buyerTaxNo, func(_ context.Context, p invoicecloud.Push) error {
			delivers = append(delivers, p.MsgID)
			return nil
		})
	}))
	defer srv.Close()
	if err := invoicecloud.SendPush(context.Background(), srv.Client(), srv.URL, body); err != nil || !slices.Equal(delivers, []string{orig.MsgID}) {
		t.Fatalf("send to a receiver: %v, delivered %v", err, delivers)
	}
	for status, answer := range map[int]string{http.StatusOK: `{"errcode":"1001"}`, http.StatusServiceUnavailable: `{"errcode":"0000"}`} {
		refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(answer))
		}))
		err := invoicecloud.SendPush(context.Background(), refuser.Client(), refuser.URL, body)
		refuser.Close()
		var refused *invoicecloud.PushRefusedError
		if !errors.As(err, &refused) || refused.Status != status {
			t.Errorf("HTTP %d %s: %v, want a refusal", status, answer, err)
		}
	}
	if _, err := invoicecloud.SealPush(pushEnterprise(), []byte(`[1]`), later); err == nil {
		t.Error("sealed a push that is not a JSON object")
	}
}
