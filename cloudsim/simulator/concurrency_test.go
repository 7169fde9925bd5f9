package simulator

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Run with -race: many bills through their whole life at once, while observers read.
func TestConcurrentBillLifecycles(t *testing.T) {
	h := newHarness(t, Options{PollHold: 20 * time.Millisecond})
	const bills = 12
	var wg sync.WaitGroup
	errs := make(chan error, bills)
	stop := make(chan struct{})
	var observers sync.WaitGroup
	observers.Add(1)
	go func() { // observers: stats, listings, pages, polls on unrelated keys
		defer observers.Done()
		tok := h.accessToken()
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.sim.Stats()
			h.sim.Bills()
			h.sim.Invoices()
			h.poll(tok, "nobody")
			h.page("/index.html?formId=" + formCollectPC + "&eventCode=nope")
		}
	}()
	for i := 0; i < bills; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- runBill(h, fmt.Sprint("C", i))
		}(i)
	}
	wg.Wait()
	close(stop)
	observers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st := h.sim.Stats()
	if st.VouchersSaved != bills || st.DeliveredBySocket != bills || st.BillSaveApplied != 2*bills {
		t.Fatalf("stats: %+v", st)
	}
}

// runBill drives one bill; it reports instead of failing so it can run in a goroutine.
func runBill(h *harness, billID string) error {
	tok := h.accessToken()
	status, resp := h.message(tok, "getEventCode", "ec-"+billID, billData(billID, nil))
	if status != http.StatusOK || resp["errorCode"] != codeOK {
		return fmt.Errorf("%s getEventCode: %v", billID, resp)
	}
	code := dig(resp, "data", "eventCode").(string)
	ws, _, err := h.dial("lk-"+billID, tok)
	if err != nil {
		return err
	}
	defer ws.Close()
	if status, r := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 2}); status != http.StatusOK {
		return fmt.Errorf("%s collect: %v", billID, r)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var serials []string
	for serials == nil {
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			return fmt.Errorf("%s socket: %v", billID, err)
		}
		if invs, ok := m["invoiceData"].([]any); ok {
			serials = serialsOf(invs)
		}
	}
	for _, st := range []string{"30", "60"} {
		if _, r := h.message(tok, "billSave", "save-"+st+"-"+billID, saveData(billID, st, serials...)); r["errorCode"] != codeOK {
			return fmt.Errorf("%s billSave %s: %v", billID, st, r)
		}
	}
	if _, r := h.message(tok, "voucherSave", "v-"+billID, voucherData("V"+billID, serials, billID)); r["errorCode"] != codeOK {
		return fmt.Errorf("%s voucherSave: %v", billID, r)
	}
	return nil
}

// Two bills race for the same invoice: exactly one gets it, the other is refused every time.
func TestConcurrentBindingOfOneInvoice(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	for _, b := range []string{"X", "Y"} {
		code := h.eventCode(tok, b)
		if status, r := h.post("/__sim/collect", `{"eventCode":"`+code+`","invoices":[{"serialNo":"shared","totalAmount":"10.00"}]}`); status != http.StatusOK || len(r["delivered"].([]any)) != 1 {
			t.Fatalf("collect for %s: %v", b, r)
		}
	}
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			bill := []string{"X", "Y"}[i%2]
			_, r := h.message(tok, "billSave", fmt.Sprint("race-", i), saveData(bill, "30", "shared"))
			mu.Lock()
			defer mu.Unlock()
			switch r["errorCode"] {
			case codeOK:
				wins[bill]++
			case CodeSerialBoundElse:
			default:
				t.Errorf("unexpected answer %v", r)
			}
		}(i)
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("both bills won the invoice: %v", wins)
	}
	v, _ := h.sim.Invoice("shared")
	if _, ok := wins[v.BillID]; !ok || v.Status != StatusInUse {
		t.Fatalf("invoice %+v, winners %v", v, wins)
	}
}

// A socket and several pollers share one linkKey: every message reaches exactly one of them.
func TestConcurrentConsumersGetEachMessageOnce(t *testing.T) {
	h := newHarness(t, Options{PollHold: 30 * time.Millisecond})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	const messages = 20
	var mu sync.Mutex
	seen := map[string]int{}
	record := func(invs []any) {
		mu.Lock()
		defer mu.Unlock()
		for _, sn := range serialsOf(invs) {
			seen[sn]++
		}
	}
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := 0; p < 3; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, r := h.poll(tok, "lk-A"); r["errcode"] == pollOK {
					record(dig(r, "data", "data", "data", "data").([]any))
				}
			}
		}()
	}
	ws, _, err := h.dial("lk-A", tok)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			if invs, ok := m["invoiceData"].([]any); ok {
				record(invs)
			}
		}
	}()
	for i := 0; i < messages; i++ {
		h.collect(code, 1)
	}
	// A liveness guard, not a speed assertion: a lost message would otherwise hang the test.
	for deadline := time.Now().Add(time.Minute); total() < messages; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages arrived", total(), messages)
		}
	}
	close(stop)
	_ = ws.WriteControl(websocket.CloseMessage, nil, time.Now().Add(time.Second))
	ws.Close()
	wg.Wait()
	for sn, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", sn, n)
		}
	}
	st := h.sim.Stats()
	if st.DeliveredByPoll+st.DeliveredBySocket != messages || st.MessagesQueued != 0 {
		t.Fatalf("stats: poll %d socket %d queued %d", st.DeliveredByPoll, st.DeliveredBySocket, st.MessagesQueued)
	}
}
