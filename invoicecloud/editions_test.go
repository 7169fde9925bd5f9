package invoicecloud_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
)

// editionClient is what the contract tests drive on either edition's client.
type editionClient interface {
	invoicecloud.Cloud
	invoicecloud.ImageSystem
	Poll(ctx context.Context, linkKey string) (*invoicecloud.Message, error)
}

// edition is one of the two clients under the shared contract, with what differs on the wire:
// codes, the name of the invoice lines, how many tokens a login issues, the calls' names.
type edition struct {
	name     string
	client   func(h *harness) editionClient
	tokens   func(simulator.TokenCounts) int // tokens this edition's login issues
	perLogin int
	lines    string            // billSave's invoice lines: invoiceData | invoices
	saves    []string          // the Observe names of BillSave's calls
	eventOp  string            // the Observe/Stats name of GetEventCode's call
	code     map[string]string // situation → the cloud's code
}

var editions = []edition{
	{
		name:     "ultimate",
		client:   func(h *harness) editionClient { return h.client(nil) },
		tokens:   func(tc simulator.TokenCounts) int { return tc.App + tc.Access + tc.OAuth2 },
		perLogin: 2, // legacy: app_token + access_token
		lines:    "invoiceData",
		saves:    []string{"billSave"},
		eventOp:  "getEventCode",
		code: map[string]string{
			"accounted": simulator.CodeBillAccounted, "boundElsewhere": simulator.CodeSerialBoundElse,
			"notInPool": simulator.CodeSerialNotInPool, "badTransition": simulator.CodeBadTransition,
			"billNotFound": simulator.CodeBillNotFound, "voucherNotBound": simulator.CodeVoucherNotBound,
		},
	},
	{
		name:     "standard",
		client:   func(h *harness) editionClient { return h.standard(nil) },
		tokens:   func(tc simulator.TokenCounts) int { return tc.Standard },
		perLogin: 1,
		lines:    "invoices",
		saves:    []string{standard.CallEntrySave, standard.CallStatusUpdate},
		eventOp:  standard.CallGetUserKey,
		code: map[string]string{
			"accounted": simulator.StdBillAccounted, "boundElsewhere": simulator.StdBoundElsewhere,
			"notInPool": simulator.StdNotInPool, "badTransition": simulator.StdBadTransition,
			"billNotFound": simulator.StdBillNotFound, "voucherNotBound": simulator.StdNotOnBill,
		},
	},
}

// eachEdition runs f once per edition, each on its own simulator.
func eachEdition(t *testing.T, opts simulator.Options, f func(t *testing.T, h *harness, ed edition)) {
	for _, ed := range editions {
		t.Run(ed.name, func(t *testing.T) {
			f(t, newHarness(t, opts), ed)
		})
	}
}

// calls counts what the simulator saw of an edition's call name.
func (ed edition) calls(st simulator.Stats, name string) int {
	if ed.name == "ultimate" {
		return st.MessageTypes[name]
	}
	return st.StandardCalls[name]
}

// saveObserved sums Observe's count of BillSave's calls with outcome.
func (ed edition) saveObserved(h *harness, outcome string) int {
	n := 0
	for _, s := range ed.saves {
		n += h.observedCount(s + "/" + outcome)
	}
	return n
}

// collectURL plays the user on a bill from its collect URL alone (either edition).
func (h *harness) collectURL(collectURL string, count int) []invoicecloud.Invoice {
	h.t.Helper()
	var res struct {
		Delivered []invoicecloud.Invoice `json:"delivered"`
	}
	if code := h.simJSON(http.MethodPost, "/__sim/collect", map[string]any{"url": collectURL, "count": count}, &res); code != http.StatusOK {
		h.t.Fatalf("collect %s: HTTP %d", collectURL, code)
	}
	if len(res.Delivered) != count {
		h.t.Fatalf("collect delivered %d invoices, want %d", len(res.Delivered), count)
	}
	return res.Delivered
}

// openPage GETs a page (following the standard edition's sign-on redirect) and wants HTML.
func openPage(t *testing.T, u, want string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), want) {
		t.Fatalf("page %s: HTTP %d, want %q in it", u, resp.StatusCode, want)
	}
}
