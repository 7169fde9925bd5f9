package calls

import (
	"encoding/json"
	"testing"
)

// Every cloud call's input routes by the bill's tax number, read from where its JSON (as running
// bills' histories carry it) holds it.
func TestEveryInputRoutesByItsTaxNumber(t *testing.T) {
	const tax = "91440300MA5G9GK78Y"
	for name, tc := range map[string]struct {
		payload string
		in      Routed
	}{
		"GetEventCode":    {`{"messageId":"m","request":{"billTaxNo":"` + tax + `"}}`, &EventCodeInput{}},
		"WatchInvoices":   {`{"taxNo":"` + tax + `","linkKey":"lk"}`, &WatchInput{}},
		"BindInvoices":    {`{"messageId":"m","request":{"billTaxNo":"` + tax + `"}}`, &BillSaveInput{}},
		"SaveVoucher":     {`{"messageId":"m","taxNo":"` + tax + `"}`, &VoucherInput{}},
		"Unbind":          {`{"messageId":"m","taxNo":"` + tax + `"}`, &UnbindInput{}},
		"CreateScanTask":  {`{"requestId":"r","request":{"billTaxNo":"` + tax + `"}}`, &ScanTaskInput{}},
		"AwaitScan":       {`{"requestId":"r","query":{"billTaxNo":"` + tax + `"}}`, &ScanQueryInput{}},
		"SelectDeduction": {`{"requestId":"r","request":{"taxNo":"` + tax + `"}}`, &DeductionInput{}},
	} {
		if err := json.Unmarshal([]byte(tc.payload), tc.in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tc.in.RoutingTaxNo(); got != tax {
			t.Errorf("%s routes by %q, want %q", name, got, tax)
		}
	}
}
