package api

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"rimflow/internal/webhooks"
)

// The ERP's walk: every route of the table exercised in an order a real integration follows
// (start, collect, forward, remove, submit, approve, voucher; a refused start amended and retried;
// image review; the refusals), with the status each step must answer. The Postman collection
// (docs/postman) is written from it and runs against a devstack with newman in CI; the API's
// system test runs the same walk in Go and checks every answer against the served OpenAPI
// document. One walk, so the collection, the document and the server cannot drift apart.

// Step is one request of the walk.
type Step struct {
	Name      string
	Operation string            // the route's operationId; "" for a call to the simulator (Sim)
	Sim       string            // the simulator's path (POST, JSON), e.g. /__sim/collect
	Path      map[string]string // path parameters, unescaped; {{var}} allowed
	Query     map[string]string // {{var}} allowed
	Body      string            // JSON text with {{var}} placeholders; "" = no body
	Status    int               // the status the step must answer
	// Save sets variables from the answer: name -> dotted path (invoiceData[0].serialNo). A value
	// saved as JSON text (for a body) has a name starting with "json:".
	Save  map[string]string
	Until *Until // repeat the step until the answer says so
	// Expect checks values of the answer: dotted path -> the value's text (error.businessCode).
	Expect map[string]string
}

// Until repeats a step (at most Tries times, DelayMs apart) until the value at Path equals Equals.
type Until struct {
	Path    string
	Equals  string
	Tries   int
	DelayMs int
}

// Scenario variables: set by the runner (baseUrl, cloudUrl, token, run: unique per run) or saved
// by the steps.
const (
	VarBaseURL  = "baseUrl"
	VarCloudURL = "cloudUrl"
	VarToken    = "token"
	VarRun      = "run"
)

var templateVar = regexp.MustCompile(`\{\{([A-Za-z0-9_:]+)\}\}`)

// Expand replaces {{var}} in s with vars' values (an unknown variable stays as written).
func Expand(s string, vars map[string]string) string {
	return templateVar.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
}

// EscapePathTemplate percent-encodes a path parameter's literal text (UTF-8) and keeps its
// {{var}} placeholders, for URLs written before the variables are known.
func EscapePathTemplate(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range templateVar.FindAllStringIndex(s, -1) {
		b.WriteString(url.PathEscape(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(url.PathEscape(s[last:]))
	return b.String()
}

func waitFor(path, equals string) *Until {
	return &Until{Path: path, Equals: equals, Tries: 120, DelayMs: 500}
}

// Scenario is the walk, in order.
func Scenario() []Step {
	main := map[string]string{"resource": "OA", "billId": "报销单-{{run}}"}
	amend := map[string]string{"resource": "OA", "billId": "AMEND-{{run}}"}
	img := map[string]string{"resource": "OA", "billId": "IMG-{{run}}"}
	set := map[string]string{"resource": "OA", "billId": "SET-{{run}}"}
	rev := map[string]string{"resource": "OA", "billId": "REV-{{run}}"}
	with := func(p map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for key, val := range p {
			out[key] = val
		}
		return out
	}
	const bill = `{"billId":"报销单-{{run}}","billNo":"BX-{{run}}","billType":"er_dailyreimbursebill","resource":"OA",
 "billTaxNo":"91440300MA5G9GK78Y","userId":"u-7",
 "companyInfo":[{"taxNo":"91440300MA5G9GK78Y","name":"金蝶票据云科技(深圳)有限公司"}],
 "options":{"approvals":["supervisor","finance"],"autoSubmit":false}}`
	return append([]Step{
		{Name: "health", Operation: "health", Status: http.StatusOK},
		{Name: "the OpenAPI document", Operation: "openapi", Status: http.StatusOK},
		{Name: "a typo in the tax number is refused, nothing started", Operation: "startBill", Status: http.StatusBadRequest,
			Expect: map[string]string{"error.businessCode": "RF1001", "error.code": CodeValidation},
			Body:   `{"billId":"TYPO-{{run}}","billNo":"BX-T-{{run}}","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"bad-tax","userId":"u-7"}`},
		{Name: "start a bill with a Chinese key", Operation: "startBill", Body: bill, Status: http.StatusCreated},
		{Name: "the same start again joins it", Operation: "startBill", Body: bill, Status: http.StatusOK},
		{Name: "a start with another body is refused", Operation: "startBill", Status: http.StatusConflict,
			Body: strings.Replace(bill, `"userId":"u-7"`, `"userId":"u-8"`, 1)},
		{Name: "the bill's state", Operation: "getBill", Path: main, Status: http.StatusOK},
		{Name: "a collect URL", Operation: "getCollectUrl", Path: main, Query: map[string]string{"client": "pc"},
			Status: http.StatusOK, Save: map[string]string{"eventCode": "eventCode"}},
		{Name: "a view URL for approvers", Operation: "getViewUrl", Path: main, Query: map[string]string{"client": "mobile"},
			Status: http.StatusOK},
		{Name: "the user imports two invoices", Sim: "/__sim/collect", Body: `{"eventCode":"{{eventCode}}","count":2}`,
			Status: http.StatusOK, Save: map[string]string{"json:delivered": "delivered", "serial0": "delivered[0].serialNo"}},
		{Name: "wait until both are bound", Operation: "getBill", Path: main, Status: http.StatusOK, Until: waitFor("invoiceCount", "2")},
		{Name: "the ERP forwards what its browser got", Operation: "forwardInvoices", Path: main,
			Body: `{"invoiceData":{{json:delivered}}}`, Status: http.StatusAccepted},
		{Name: "a forward with an unknown field is refused", Operation: "forwardInvoices", Path: main,
			Body: `{"invoiceData":[{"serialNo":"{{serial0}}","memo":"x"}]}`, Status: http.StatusBadRequest},
		{Name: "remove an invoice", Operation: "removeInvoice", Path: with(main, "serialNo", "{{serial0}}"),
			Query: map[string]string{"reason": "claimed twice"}, Status: http.StatusOK},
		{Name: "submit", Operation: "submitBill", Path: main, Body: `{"by":"u-7"}`, Status: http.StatusOK},
		{Name: "the submitter withdraws it (撤回)", Operation: "withdrawBill", Path: main, Status: http.StatusOK,
			Body: `{"by":"u-7","reason":"forgot a receipt"}`, Expect: map[string]string{"stage": "collecting"}},
		{Name: "a collecting bill cannot be withdrawn", Operation: "withdrawBill", Path: main, Status: http.StatusConflict,
			Body: `{"by":"u-7","reason":"again"}`, Expect: map[string]string{"error.businessCode": "RF2001"}},
		{Name: "and submits it again (重提)", Operation: "submitBill", Path: main, Body: `{"by":"u-7"}`, Status: http.StatusOK,
			Expect: map[string]string{"stage": "awaiting_supervisor"}},
		{Name: "finance cannot decide yet", Operation: "decideApproval", Path: main, Status: http.StatusConflict,
			Expect: map[string]string{"error.businessCode": "RF2001", "error.subCode": SubWrongStage},
			Body:   `{"role":"finance","decision":"approve","approver":"li.si"}`},
		{Name: "the supervisor approves", Operation: "decideApproval", Path: main, Status: http.StatusOK,
			Body: `{"role":"supervisor","decision":"approve","approver":"zhang.san","comment":"ok"}`},
		{Name: "finance approves in a batch, beside a bill that does not exist", Operation: "batchApprovals", Status: http.StatusOK,
			Body: `{"role":"finance","decision":"approve","approver":"li.si","bills":[{"resource":"OA","billId":"报销单-{{run}}"},{"resource":"OA","billId":"NONE-{{run}}"}]}`,
			Expect: map[string]string{"results[0].status": "200",
				"results[1].status": "404", "results[1].error.businessCode": "RF1200", "succeeded": "1", "failed": "1"}},
		{Name: "wait for the voucher stage", Operation: "getBill", Path: main, Status: http.StatusOK,
			Until: waitFor("stage", "awaiting_voucher")},
		{Name: "the voucher", Operation: "saveVoucher", Path: main, Status: http.StatusOK,
			Body: `{"vouchId":"V-{{run}}","vouchNo":"记-{{run}}","accountDate":"2026-11-30","accountTime":"2026-11-30","businessDate":"2026-11-29","resource":"SAP"}`},
		{Name: "wait until completed", Operation: "getBill", Path: main, Status: http.StatusOK, Until: waitFor("stage", "completed")},
		{Name: "a completed bill takes no invoices", Operation: "forwardInvoices", Path: main,
			Body: `{"invoiceData":{{json:delivered}}}`, Status: http.StatusConflict},
		{Name: "find the bills, latest change first", Operation: "listBills", Status: http.StatusOK,
			Query: map[string]string{"resource": "OA", "sort": "-updatedAt", "pageSize": "5"}},
		{Name: "my bills: the user's daily reimbursements", Operation: "listBills", Status: http.StatusOK,
			Query: map[string]string{"userId": "u-7", "billType": "er_dailyreimbursebill", "billNoPrefix": "BX-{{run}}"},
			Until: waitFor("bills[0].userId", "u-7"), Expect: map[string]string{"bills[0].billType": "er_dailyreimbursebill", "bills[0].resource": "OA"}},
		{Name: "a misspelt filter is refused", Operation: "listBills", Query: map[string]string{"stauts": "failed"}, Status: http.StatusBadRequest},

		{Name: "the cloud will refuse the next start", Sim: "/__sim/faults", Status: http.StatusOK,
			Body: `{"errorRate":1,"messageTypes":["getEventCode"],"refuseCode":"1001","refuseField":"billTaxNo"}`},
		{Name: "a start the cloud refuses", Operation: "startBill", Status: http.StatusBadGateway,
			Expect: map[string]string{"error.businessCode": "RF3000", "error.cloudCode": "1001"},
			Body:   `{"billId":"AMEND-{{run}}","billNo":"BX-A-{{run}}","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"91440300MA5G9GK78Y","userId":"u-7"}`},
		{Name: "the cloud accepts again", Sim: "/__sim/faults", Body: `{}`, Status: http.StatusOK},
		{Name: "amend the refused bill", Operation: "amendBill", Path: amend, Status: http.StatusOK,
			Body: `{"billTaxNo":"91310115MA1K4L8R20","reason":"the ERP had the wrong company"}`},
		{Name: "retry it", Operation: "retryBill", Path: amend, Body: `{"by":"erp"}`, Status: http.StatusOK},
		{Name: "nothing to resolve", Operation: "resolveCompensation", Path: amend, Status: http.StatusConflict,
			Body: `{"by":"ops","reason":"test","done":"nothing"}`},
		{Name: "cancel it", Operation: "cancelBill", Path: amend, Body: `{"reason":"raised by mistake","by":"erp"}`, Status: http.StatusOK},
		{Name: "both bills' states in one call", Operation: "batchStates", Status: http.StatusOK,
			Body:   `{"bills":[{"resource":"OA","billId":"报销单-{{run}}"},{"resource":"OA","billId":"AMEND-{{run}}"}]}`,
			Expect: map[string]string{"results[0].state.stage": "completed", "results[1].state.stage": "cancelled", "failed": "0"}},

		{Name: "start a bill with image review", Operation: "startBill", Status: http.StatusCreated,
			Body: `{"billId":"IMG-{{run}}","billNo":"BX-I-{{run}}","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"91440300MA5G9GK78Y","userId":"u-7","options":{"approvals":[],"imageMode":"basic"}}`},
		{Name: "its collect URL", Operation: "getCollectUrl", Path: img, Status: http.StatusOK, Save: map[string]string{"imgEventCode": "eventCode"}},
		{Name: "the user imports one invoice", Sim: "/__sim/collect", Body: `{"eventCode":"{{imgEventCode}}","count":1}`, Status: http.StatusOK,
			Save: map[string]string{"imgInvoiceNo": "delivered[0].invoiceNo"}},
		{Name: "wait for image review", Operation: "getBill", Path: img, Status: http.StatusOK, Until: waitFor("stage", "image_review")},
		{Name: "the scanning station reports", Operation: "reportImages", Path: img, Status: http.StatusOK,
			Body: `{"scanBillNo":"S-{{run}}","invoiceNos":["{{imgInvoiceNo}}"]}`},
		{Name: "start a bill with no approval, booked with the image one", Operation: "startBill", Status: http.StatusCreated,
			Body: `{"billId":"SET-{{run}}","billNo":"BX-S-{{run}}","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"91440300MA5G9GK78Y","userId":"u-7","options":{"approvals":[],"reversalWindow":"10m"}}`},
		{Name: "its collect URL too", Operation: "getCollectUrl", Path: set, Status: http.StatusOK, Save: map[string]string{"setEventCode": "eventCode"}},
		{Name: "the user imports one invoice there", Sim: "/__sim/collect", Body: `{"eventCode":"{{setEventCode}}","count":1}`, Status: http.StatusOK},
		{Name: "wait until the image bill awaits its voucher", Operation: "getBill", Path: img, Status: http.StatusOK, Until: waitFor("stage", "awaiting_voucher")},
		{Name: "wait until the other awaits its voucher", Operation: "getBill", Path: set, Status: http.StatusOK, Until: waitFor("stage", "awaiting_voucher")},
		{Name: "one voucher for a completed bill and another is refused, nothing saved", Operation: "saveVoucherSet", Status: http.StatusConflict,
			Body: `{"vouchId":"VS-{{run}}","vouchNo":"记-S-{{run}}","accountDate":"2026-11-30","accountTime":"2026-11-30","businessDate":"2026-11-29","resource":"SAP",
 "bills":[{"resource":"OA","billId":"SET-{{run}}"},{"resource":"OA","billId":"报销单-{{run}}"}]}`},
		{Name: "one voucher for both bills: one voucherSave", Operation: "saveVoucherSet", Status: http.StatusOK,
			Body: `{"vouchId":"VS-{{run}}","vouchNo":"记-S-{{run}}","accountDate":"2026-11-30","accountTime":"2026-11-30","businessDate":"2026-11-29","resource":"SAP",
 "bills":[{"resource":"OA","billId":"IMG-{{run}}"},{"resource":"OA","billId":"SET-{{run}}"}]}`},
		{Name: "the other bill completed", Operation: "getBill", Path: set, Status: http.StatusOK, Until: waitFor("stage", "completed")},
		{Name: "a voucher of two bills is not reversed for one", Operation: "reverseVoucher", Path: set, Status: http.StatusConflict,
			Body:   `{"vouchId":"VS-{{run}}","by":"acct-li","reason":"wrong period"}`,
			Expect: map[string]string{"error.businessCode": "RF2011", "error.subCode": SubVoucherShared}},
		{Name: "a bill started without a reversal window has ended with its voucher", Operation: "reverseVoucher", Path: main,
			Status: http.StatusConflict, Body: `{"vouchId":"V-{{run}}","by":"acct-li","reason":"wrong period"}`,
			Expect: map[string]string{"error.businessCode": "RF2004"}},
		{Name: "start a bill that takes a voucher reversal for 10 minutes", Operation: "startBill", Status: http.StatusCreated,
			Body: `{"billId":"REV-{{run}}","billNo":"BX-R-{{run}}","billType":"er_dailyreimbursebill","resource":"OA","billTaxNo":"91440300MA5G9GK78Y","userId":"u-7","options":{"approvals":[],"reversalWindow":"10m"}}`},
		{Name: "its collect URL as well", Operation: "getCollectUrl", Path: rev, Status: http.StatusOK, Save: map[string]string{"revEventCode": "eventCode"}},
		{Name: "the user imports one invoice into it", Sim: "/__sim/collect", Body: `{"eventCode":"{{revEventCode}}","count":1}`, Status: http.StatusOK},
		{Name: "wait until it awaits its voucher", Operation: "getBill", Path: rev, Status: http.StatusOK, Until: waitFor("stage", "awaiting_voucher")},
		{Name: "its voucher", Operation: "saveVoucher", Path: rev, Status: http.StatusOK, Expect: map[string]string{"stage": "completed"},
			Body: `{"vouchId":"VR-{{run}}","vouchNo":"记-R-{{run}}","accountDate":"2026-11-30","accountTime":"2026-11-30","businessDate":"2026-11-29","resource":"SAP"}`},
		{Name: "a reversal naming another voucher is refused", Operation: "reverseVoucher", Path: rev, Status: http.StatusBadRequest,
			Body: `{"vouchId":"VX-{{run}}","by":"acct-li","reason":"wrong period"}`, Expect: map[string]string{"error.businessCode": "RF1001"}},
		{Name: "reverse the voucher (反记账)", Operation: "reverseVoucher", Path: rev, Status: http.StatusOK,
			Body:   `{"vouchId":"VR-{{run}}","by":"acct-li","reason":"booked in the wrong period"}`,
			Expect: map[string]string{"stage": "awaiting_voucher", "reversals[0].by": "acct-li"}},
		{Name: "its invoices stay used (60)", Operation: "getBill", Path: rev, Status: http.StatusOK,
			Expect: map[string]string{"stage": "awaiting_voucher", "invoices[0].status": "60"}},
		{Name: "the same reversal again answers the same", Operation: "reverseVoucher", Path: rev, Status: http.StatusOK,
			Body:   `{"vouchId":"VR-{{run}}","by":"acct-li","reason":"booked in the wrong period"}`,
			Expect: map[string]string{"stage": "awaiting_voucher"}},
		{Name: "the right voucher", Operation: "saveVoucher", Path: rev, Status: http.StatusOK, Expect: map[string]string{"stage": "completed", "voucher.accountDate": "2026-12-31"},
			Body: `{"vouchId":"VR2-{{run}}","vouchNo":"记-R2-{{run}}","accountDate":"2026-12-31","accountTime":"2026-12-31","businessDate":"2026-11-29","resource":"SAP"}`},
		{Name: "the enterprises bills are routed to", Operation: "listEnterprises", Status: http.StatusOK},
		{Name: "a push the enterprise did not seal is refused", Operation: "receivePush", Status: http.StatusUnauthorized,
			Path: map[string]string{"taxNo": "91440300MA5G9GK78Y"}, Body: `{"not":"sealed"}`},
		{Name: "metrics", Operation: "metrics", Status: http.StatusOK},
	}, webhookSteps()...)
}

// ScenarioWebhookSecretEnv is the variable the walk's webhook is signed with (the devstack sets
// it to a random secret when it is unset).
const ScenarioWebhookSecretEnv = webhooks.EnvSecretPrefix + "DEVSTACK"

// webhookSteps: the ERP registers its own webhook for a resource of its own, tests and replays
// it, and removes it. The receiver is this API's /healthz, which answers a POST 405: the test
// shows what a receiver answered, the refusal included.
func webhookSteps() []Step {
	hooks := map[string]string{"resource": "HOOKS{{run}}"}
	good := `{"urls":["{{baseUrl}}/healthz"],"secret":"env:` + ScenarioWebhookSecretEnv + `"}`
	return []Step{
		{Name: "a webhook with an inline secret is refused, naming the field", Operation: "putWebhook", Path: hooks, Status: http.StatusBadRequest,
			Body: `{"urls":["https://erp.example.com/rimflow/events"],"secret":"whsec-inline-0123456789"}`, Expect: map[string]string{"error.businessCode": "RF1001"}},
		{Name: "register the ERP's webhook for a resource", Operation: "putWebhook", Path: hooks, Body: good, Status: http.StatusCreated,
			Expect: map[string]string{"created": "true"}},
		{Name: "the same again replaces it", Operation: "putWebhook", Path: hooks, Body: good, Status: http.StatusOK},
		{Name: "the client's webhook", Operation: "getWebhook", Path: hooks, Status: http.StatusOK,
			Expect: map[string]string{"secret": "env:" + ScenarioWebhookSecretEnv}},
		{Name: "the client's webhooks", Operation: "listWebhooks", Status: http.StatusOK},
		{Name: "a signed test event: the receiver's answer", Operation: "testWebhook", Path: hooks, Body: `{}`, Status: http.StatusOK,
			Expect: map[string]string{"ok": "false", "attempts[0].status": "405"}},
		{Name: "the resource's journal", Operation: "listWebhookEvents", Path: hooks, Query: map[string]string{"fromSeq": "1", "pageSize": "10"},
			Status: http.StatusOK, Expect: map[string]string{"lastSeq": "0"}},
		{Name: "replay from sequence 1 (nothing journaled yet)", Operation: "replayWebhookEvents", Path: hooks, Body: `{"fromSeq":1,"limit":50}`,
			Status: http.StatusOK, Expect: map[string]string{"sent": "0", "more": "false"}},
		{Name: "a replay without fromSeq is refused", Operation: "replayWebhookEvents", Path: hooks, Body: `{"limit":50}`,
			Status: http.StatusBadRequest, Expect: map[string]string{"error.businessCode": "RF1001"}},
		{Name: "remove the webhook", Operation: "deleteWebhook", Path: hooks, Status: http.StatusOK},
		{Name: "it is gone", Operation: "getWebhook", Path: hooks, Status: http.StatusNotFound,
			Expect: map[string]string{"error.businessCode": "RF1202"}},
	}
}
