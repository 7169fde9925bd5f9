package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"rimflow/internal/access"
	"rimflow/internal/enterprises"
	"rimflow/internal/metrics"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// route is one entry of the API: the same table registers the handler and writes the OpenAPI
// document, so every served route is documented and nothing documented is missing.
type route struct {
	Method    string
	Path      string // Go ServeMux pattern path; its {params} are OpenAPI path parameters too
	Operation string // OpenAPI operationId
	Summary   string
	// Description is the operation's longer text in the document (the summary and a period when empty).
	Description string
	Open        bool // no bearer token needed (the codec server's routes authenticate by themselves)
	// Op is the access operation the route needs (internal/access), checked on the path's
	// {resource} before the handler runs, so nothing reaches Temporal (and no answer depends on
	// whether the bill exists) for a client that may not. Start checks it again on the body's
	// resource, and approvals (Op approve: some role) check approve:<role> once the role is read.
	Op string
	// OrOp is another operation that also opens the route ("" none): a collect URL is for
	// whoever may fill the bill (invoices) or started it (start).
	OrOp      string
	Hidden    bool // served but not in the OpenAPI document (the codec server's sign-in and preflights)
	Body      any  // request body type (a zero value), nil = none
	BodyOpt   bool // the body may be empty
	Example   any  // an example body (OpenAPI example, the Postman collection)
	Query     []param
	Responses []response
	// CodecQuery: the query string belongs to Temporal's codec protocol, whose parameters Temporal
	// Web adds between releases (2.55 sends ?preserveStorageRefs=true): they are ignored, never
	// refused, so a new Web still decodes. rimflow's own routes refuse unknown parameters.
	CodecQuery bool
	// MaxBody caps the request body (0: MaxBodyBytes).
	MaxBody int64

	serve func(s *server, r *http.Request) (status int, body any, err error)
	raw   func(s *server, w http.ResponseWriter, r *http.Request) // writes its own answer
}

type param struct {
	Name        string
	Description string
	Enum        []string
	Type        string // string (default), boolean, integer
	Format      string // e.g. date-time
	Required    bool
	Example     string
	Min, Max    *int // an integer's bounds
}

func bound(n int) *int { return &n }

type response struct {
	Status      int
	Description string
	Body        any    // JSON body type; nil = none
	ContentType string // default application/json
}

// HealthResponse answers GET /healthz.
type HealthResponse struct {
	Status string `json:"status"`
}

const billPath = "/v1/bills/{resource}/{billId}"

// codecPayloads is the body of Temporal's remote codec protocol (for the document): protobuf JSON
// of the payloads, metadata values and data in base64.
type codecPayloads struct {
	Payloads []codecPayload `json:"payloads"`
}

type codecPayload struct {
	Metadata map[string]string `json:"metadata"`
	Data     string            `json:"data"`
}

// preserveStorageRefs is the codec protocol's parameter Temporal Web sends on every call. This codec
// server keeps no payload in external storage, so it has no reference to resolve: ignored.
var preserveStorageRefs = param{Name: "preserveStorageRefs", Type: "boolean", Example: "true",
	Description: "Temporal Web's (the codec protocol's): leave external-storage references as they are. Ignored: " +
		"rimflow stores no payload externally. Any other parameter of the protocol is ignored too, never refused"}

// clientParam is the page kind of the URL routes.
var clientParam = param{Name: "client", Description: "pc (default) or mobile", Enum: []string{"pc", "mobile"}, Example: "pc"}

// routes is the API. Error responses every call can get are added by errorResponses.
func routes() []route {
	// A decision answers the bill after it in brief (its Decision); GET of the bill answers the rest.
	state := response{http.StatusOK, "the bill after the decision, in brief (GET the bill for the whole state)", workflows.Decision{}, ""}
	return append([]route{
		{
			Method: "POST", Path: "/v1/bills", Operation: "startBill",
			Summary: "Start a bill (or join the running one) and get its collect URLs once the eventCode is issued",
			Body:    workflows.BillInput{}, Example: exampleBill, Op: access.OpStart,
			Responses: []response{
				{http.StatusCreated, "started", StartResponse{}, ""},
				{http.StatusOK, "already running with the same body", StartResponse{}, ""},
				{http.StatusAccepted, "started (or running) but the eventCode is not issued yet: pending says what the bill waits on", StartResponse{}, ""},
			},
			serve: (*server).startBill,
		},
		{
			Method: "GET", Path: "/v1/bills", Operation: "listBills",
			Summary: "Find bills through Temporal visibility (typed search attributes)",
			Query: []param{
				{Name: "stage", Description: "bill stage: collecting, awaiting_<role>, image_review, awaiting_voucher, deducting, completed, rejected, cancelled or failed", Example: "awaiting_finance"},
				{Name: "taxNo", Description: "a tax number of the bill, in any letter case: its billTaxNo or any companyInfo tax number", Example: "91330100MA2B3C4D5N"},
				{Name: "overdue", Description: "only overdue (true) or on-time (false) bills", Type: "boolean"},
				{Name: "awaitingRole", Description: "the approval role the bill waits for", Example: "finance"},
				{Name: "billNo", Description: "the ERP's bill number"},
				{Name: "billNoPrefix", Description: "bills whose billNo starts with this (case-sensitive)", Example: "BX-2026-"},
				{Name: "userId", Description: "the bill's user (userId at start): the \"my bills\" screen"},
				{Name: "billType", Description: "the bill's type", Example: "er_dailyreimbursebill"},
				{Name: "resource", Description: "the source system (BillResource)"},
				{Name: "updatedSince", Description: "only bills changed at or after this instant (RFC 3339; BillUpdatedAt), to the millisecond " +
					"as the API prints every time: a bill's own updatedAt finds that bill, so a sync cursor never skips one", Format: "date-time", Example: "2026-11-30T00:00:00.000Z"},
				{Name: "sort", Description: "order: updatedAt, -updatedAt, startedAt or -startedAt (default: visibility's order, the newest first)", Enum: sortOrders},
				{Name: "pageSize", Description: "1 to 1000, default 100", Type: "integer", Min: bound(1), Max: bound(maxPageSize)},
				{Name: "pageToken", Description: "nextPageToken of the previous page (with the same filters)"},
			},
			Responses: []response{{http.StatusOK, "one page of bills", ListResponse{}, ""}},
			serve:     (*server).listBills, Op: access.OpRead,
		},
		{
			Method: "GET", Path: billPath, Operation: "getBill",
			Summary:   "The bill's state (also for finished bills)",
			Responses: []response{{http.StatusOK, "the bill's state", workflows.BillState{}, ""}},
			serve:     (*server).getBill, Op: access.OpRead,
		},
		{
			Method: "PATCH", Path: billPath, Operation: "amendBill",
			Summary: "Correct the header of a bill that failed before anything was bound (then retry it), or the ERP's line fields and cover while it collects",
			Description: "lines (merged by serialNo) and coverData alone may be amended while the bill collects, or after it failed " +
				"before its invoices were marked used: with invoices bound the cloud gets them at once (billSave 30); every later billSave carries them.",
			Body: workflows.AmendRequest{}, Example: map[string]any{"billTaxNo": "91330100MA2B3C4D5N", "reason": "tax number typo"},
			Responses: []response{state}, serve: decide(true, (*Bills).Amend), Op: access.OpStart,
		},
		{
			Method: "GET", Path: billPath + "/collect-url", Operation: "getCollectUrl",
			Summary: "A collect URL valid now (re-issues the eventCode when it expired)",
			Query:   []param{clientParam},
			Responses: []response{
				{http.StatusOK, "the URL and when its eventCode expires", workflows.CollectURLResponse{}, ""},
			},
			// The collect page imports invoices into the bill at the cloud: a capability, not a read.
			serve: (*server).collectURL, Op: access.OpInvoices, OrOp: access.OpStart,
		},
		{
			Method: "GET", Path: billPath + "/view-url", Operation: "getViewUrl",
			Summary: "A view page URL valid now, in any stage of a running bill (for approvers)",
			Description: "Past collecting, a view-only eventCode's view page (reused while it lives). While the bill " +
				"collects, the collect eventCode's (its collect page imports into the bill): then only for a client " +
				"that may also forward invoices or start the bill, 403 for a reader. expiresAt says until when the URL works.",
			Query: []param{clientParam},
			Responses: []response{{http.StatusOK, "the URL and when its eventCode expires", workflows.ViewURLResponse{}, ""},
				{http.StatusForbidden, "the bill collects and the client may only read: its view page is its collect page", ErrorBody{}, ""}},
			serve: (*server).viewURL, Op: access.OpRead,
		},
		{
			Method: "POST", Path: billPath + "/invoices", Operation: "forwardInvoices",
			Summary: "Forward an invoice payload the ERP's browser received on the cloud's socket",
			Body:    workflows.InvoicesSignal{}, Example: exampleForward,
			Responses: []response{{http.StatusAccepted, "handed to the bill: bound now (collecting) or kept until it next collects", InvoicesAccepted{}, ""}},
			serve:     (*server).invoices, Op: access.OpInvoices,
		},
		{
			Method: "DELETE", Path: billPath + "/invoices/{serialNo}", Operation: "removeInvoice",
			Summary:   "Take an invoice off a collecting or failed bill (released at the cloud when bound)",
			Query:     []param{{Name: "reason", Description: "why the invoice leaves the bill (audited)", Required: true, Example: "wrong invoice"}},
			Responses: []response{state}, serve: (*server).removeInvoice, Op: access.OpInvoices,
		},
		{
			Method: "POST", Path: billPath + "/submit", Operation: "submitBill",
			Summary: "End collecting and send the bill to approval", Body: workflows.SubmitRequest{}, BodyOpt: true,
			Example:   map[string]any{"by": "u-7"},
			Responses: []response{state}, serve: decide(false, (*Bills).Submit), Op: access.OpSubmit,
		},
		{
			Method: "POST", Path: billPath + "/approvals", Operation: "decideApproval",
			Summary: "Approve, reject or return the bill for the role it awaits", Body: workflows.ApproveRequest{},
			Example:   map[string]any{"role": "supervisor", "decision": "approve", "approver": "zhang.san", "comment": "ok"},
			Responses: []response{state}, serve: decide(true, (*Bills).Approve), Op: access.OpApprove,
		},
		{
			Method: "POST", Path: billPath + "/withdraw", Operation: "withdrawBill",
			Summary: "Withdraw a bill that waits for an approval back to collecting (撤回), to fix it and submit it again",
			Description: "Only while the bill waits for an approval (nothing is final yet): the invoices stay bound, the round's " +
				"approvals are void, the bill key stays. Then fix what needs fixing (add or remove invoices) and submit again.",
			Body: workflows.WithdrawRequest{}, Example: map[string]any{"by": "u-7", "reason": "forgot the taxi receipt"},
			Responses: []response{state}, serve: decide(true, (*Bills).Withdraw), Op: access.OpSubmit,
		},
		{
			Method: "POST", Path: billPath + "/images", Operation: "reportImages",
			Summary: "The scanning station's \"scanned\" message (image review), or the submitter's images", Body: workflows.ImagesRequest{},
			Description: "In submitter mode the images themselves come as uploads (Base64): at most 1 MiB of files in all, what the image system " +
				"takes with a scan task [assumed]; above it 413 body_too_large naming uploads.",
			MaxBody:   MaxImagesBodyBytes,
			Example:   map[string]any{"scanBillNo": "S-1", "invoiceNos": []string{"12345678"}, "amounts": map[string]string{"12345678": "1130.00"}},
			Responses: []response{state}, serve: decide(true, (*Bills).Images), Op: access.OpImages,
		},
		{
			Method: "POST", Path: billPath + "/voucher", Operation: "saveVoucher",
			Summary: "Write the accounting voucher back (voucherSave)", Body: workflows.VoucherRequest{},
			Example: map[string]any{"vouchId": "V-1", "vouchNo": "记-001", "accountDate": "2026-11-30", "accountTime": "2026-11-30",
				"businessDate": "2026-11-29", "resource": "SAP"},
			Responses: []response{state}, serve: decide(true, (*Bills).Voucher), Op: access.OpVoucher,
		},
		{
			Method: "POST", Path: billPath + "/voucher/reversal", Operation: "reverseVoucher",
			Summary: "Take the booked voucher back (反记账): the bill awaits a new voucher, its invoices still used (60)",
			Description: "Only within the bill's reversal window (options.reversalWindow at start; state.voucher.reversibleUntil): " +
				"the voucher comes off at the cloud ([assumed] call, docs/invoicecloud.md) and the bill is in awaiting_voucher " +
				"again, so POST …/voucher books the next one. vouchId names the voucher reversed. Refused (409) for a voucher " +
				"of several bills (voucher_shared, fields.vouchId names the others), after the deduction (deduction_selected), " +
				"and once the window has ended (bill_finished).",
			Body:      workflows.VoucherReversalRequest{},
			Example:   map[string]any{"vouchId": "V-1", "by": "acct-li", "reason": "booked in the wrong period"},
			Responses: []response{state}, serve: decide(true, (*Bills).ReverseVoucher), Op: access.OpVoucher,
		},
		{
			Method: "POST", Path: billPath + "/cancel", Operation: "cancelBill",
			Summary: "Cancel the bill and release its invoices (refused after the voucher)", Body: workflows.CancelRequest{},
			Example:   map[string]any{"reason": "duplicate claim", "by": "ops"},
			Responses: []response{state}, serve: decide(true, (*Bills).Cancel), Op: access.OpCancel,
		},
		{
			Method: "POST", Path: billPath + "/retry", Operation: "retryBill",
			Summary: "Re-run the step a failed bill stopped at", Body: workflows.RetryRequest{}, BodyOpt: true,
			Example:   map[string]any{"by": "ops"},
			Responses: []response{state}, serve: decide(false, (*Bills).Retry), Op: access.OpRetry,
		},
		{
			Method: "POST", Path: billPath + "/resolve", Operation: "resolveCompensation",
			Summary:   "Close a failed compensation by hand, audited: who, why and what was done at the cloud",
			Body:      workflows.ResolveRequest{},
			Example:   map[string]any{"by": "ops-li", "reason": "voucher reversed in SAP", "done": "invoices released in the vendor console"},
			Responses: []response{state}, serve: decide(true, (*Bills).Resolve), Op: access.OpResolve,
		},
		{
			Method: "POST", Path: "/v1/batch/states", Operation: "batchStates",
			Summary: fmt.Sprintf("Many bills' states in one call (at most %d): each bill's answer, as GET of the bill would give it", MaxBatch),
			Description: "Each item carries the bill's status (200, 403, 404…) and its state or its error: one bill's failure " +
				"does not fail the others. read is checked on each bill's resource.",
			Body: BatchStatesRequest{}, Example: map[string]any{"bills": []map[string]string{{"resource": "OA", "billId": "报销单-0001"}, {"resource": "OA", "billId": "报销单-0002"}}},
			Responses: []response{{http.StatusOK, "one item per bill, in the request's order", BatchResponse{}, ""}},
			serve:     (*server).batchStates, Op: access.OpRead,
		},
		{
			Method: "POST", Path: "/v1/batch/approvals", Operation: "batchApprovals",
			Summary: fmt.Sprintf("One role's decision on many bills in one call (at most %d): each bill's answer, no all-or-nothing", MaxBatch),
			Description: "The decision goes to each bill as POST …/approvals would send it; each item carries the bill's status " +
				"and its state in brief after it (as POST …/approvals answers), or its error (a bill awaiting another role answers 409 wrong_stage, the others are still decided). " +
				"approve:<role> is checked on each bill's resource. An Idempotency-Key names the update on every bill: a repeated batch applies nothing twice.",
			Body: BatchApprovalsRequest{}, Example: map[string]any{"role": "finance", "decision": "approve", "approver": "li.si",
				"bills": []map[string]string{{"resource": "OA", "billId": "报销单-0001"}, {"resource": "OA", "billId": "报销单-0002"}}},
			Responses: []response{{http.StatusOK, "one item per bill, in the request's order", BatchDecisionsResponse{}, ""}},
			serve:     (*server).batchApprovals, Op: access.OpApprove,
		},
		codecRoute("decode", "decrypted",
			"Temporal's remote codec: decrypt payloads for Temporal Web and the temporal CLI (operation codec:decode; bearer token or a session from /v1/codec/login)"),
		codecRoute("encode", "encrypted",
			"Temporal's remote codec: encrypt payloads (Temporal Web encodes a signal's input; operation codec:encode)"),
		{
			// The rest of the codec server: CORS preflights, GET/POST login (Temporal Web's
			// session) and POST logout; docs/security.md describes them.
			Path: "/v1/codec/{endpoint}", Operation: "codecServer", Open: true, Hidden: true, CodecQuery: true,
			raw: (*server).serveCodec,
		},
		{
			Method: "POST", Path: "/v1/vouchers", Operation: "saveVoucherSet",
			Summary: "Write one voucher back for many bills: one voucherSave whose expenseIdArray lists them all",
			Description: "Every bill must await its voucher, or nothing is saved (409 naming the first that does not, in `fields[\"bills[i]\"]`). " +
				"The vouchId is claimed for the set: a vouchId booked on another bill or set is 409 voucher_in_use; the same set sent again joins it. " +
				"Each bill then completes (or deducts) as after its own voucher.",
			Body: VoucherSetRequest{}, Op: access.OpVoucher,
			Example: map[string]any{"vouchId": "V-9", "vouchNo": "记-009", "accountDate": "2026-11-30", "accountTime": "2026-11-30",
				"businessDate": "2026-11-29", "resource": "SAP", "bills": []map[string]string{{"resource": "OA", "billId": "B-1"}, {"resource": "OA", "billId": "B-2"}}},
			Responses: []response{
				{http.StatusOK, "saved: each bill with its stage after the voucher, and the invoices booked", VoucherSetResponse{}, ""},
				{http.StatusConflict, "a bill does not await its voucher (error.fields names bills[i]; nothing was saved), or the vouchId is booked elsewhere (voucher_in_use)", ErrorBody{}, ""},
				{http.StatusGatewayTimeout, "the set did not answer in time; it goes on: send it again (the same set joins it)", ErrorBody{}, ""},
			},
			serve: (*server).saveVoucherSet,
		},
		{
			Method: "GET", Path: "/v1/enterprises", Operation: "listEnterprises",
			Summary:   "The enterprise registry (企业授权配置) bills are routed by: tax number, name, edition, organisation, image system, push; never a secret",
			Responses: []response{{http.StatusOK, "the enterprises", EnterprisesResponse{}, ""}},
			serve:     (*server).listEnterprises, Op: access.OpRead,
		},
		{
			Method: "POST", Path: "/v1/push/{taxNo}", Operation: "receivePush", Open: true,
			Summary: "The cloud's push of collected invoices (AWS收票推送): authenticated by the enterprise's encrypt_key, " +
				"recorded in its bill, answered 200 {\"errcode\":\"0000\"} only once recorded (else pushed again)",
			Responses: []response{
				{http.StatusOK, "recorded (or a repeat of a recorded push); or for the enterprise's bill that has ended: not recorded, kept aside for ops (metric, log), and the cloud stops pushing it", PushAnswer{}, ""},
				{http.StatusBadRequest, "refused: not a push the protocol allows (malformed, too large, or stale: a replay), or an invoice whose buyer is not the bill's; the description names the field", PushAnswer{}, ""},
				{http.StatusUnauthorized, "not the enterprise's: unknown tax number, wrong key or client id", PushAnswer{}, ""},
				{http.StatusForbidden, "the enterprise's push about a bill that is not the enterprise's, or no bill (errcode 1101)", PushAnswer{}, ""},
				{http.StatusServiceUnavailable, "not recorded yet: push again", PushAnswer{}, ""},
			},
			raw: (*server).push,
		},
		{
			Method: "GET", Path: "/v1/openapi.json", Operation: "openapi", Open: true,
			Summary:   "This document",
			Responses: []response{{http.StatusOK, "OpenAPI 3.0 document", map[string]any{}, ""}},
			raw:       (*server).openapi,
		},
		{
			Method: "GET", Path: "/healthz", Operation: "health", Open: true,
			Summary: "Checks that Temporal answers",
			Responses: []response{
				{http.StatusOK, "Temporal answers", HealthResponse{}, ""},
				{http.StatusServiceUnavailable, "Temporal is unreachable", ErrorBody{}, ""},
			},
			serve: (*server).health,
		},
		{
			Method: "GET", Path: "/metrics", Operation: "metrics", Op: access.OpMetrics,
			Summary: "Prometheus metrics",
			Description: "The API's metrics (requests, pushes, bill counts by enterprise and stage) for a client with the metrics operation. " +
				"With an ops listener (RIMFLOW_API_OPS_ADDR) they are served there, without a token, and this route answers 404.",
			Responses: []response{{http.StatusOK, "Prometheus text exposition", nil, "text/plain"}},
			raw:       (*server).serveMetrics,
		},
	}, webhookRoutes()...)
}

// Examples of the documentation (OpenAPI, Postman).
var (
	exampleBill = map[string]any{
		"billId": "报销单-0001", "billNo": "BX-2026-001", "billType": "er_dailyreimbursebill", "resource": "OA",
		"billTaxNo": "91330100MA2B3C4D5N", "userId": "u-7",
		"companyInfo": []map[string]any{{"taxNo": "91330100MA2B3C4D5N", "name": "杭州示例科技有限公司"}},
		"options": map[string]any{"approvals": []string{"supervisor", "finance"}, "imageMode": "none", "deduction": "none",
			"sla": map[string]any{"approval": "48h", "hard": "120h"}, "onDeadline": "remind"},
	}
	exampleForward = map[string]any{"invoiceData": []map[string]any{{
		"serialNo": "7f3c0a9e5b1d4c2a8e6f0b3d5a7c9e1f", "invoiceType": "27", "invoiceNo": "24442000000123456789",
		"invoiceDate": "2026-11-20", "invoiceAmount": 1000.00, "totalTaxAmount": 130.00, "totalAmount": 1130.00,
		"salerName": "深圳示例商贸有限公司", "salerTaxNo": "91440300MA5G9GK78Y",
		"buyerName": "杭州示例科技有限公司", "buyerTaxNo": "91330100MA2B3C4D5N", "taxRate": "0.13", "invoiceStatus": "0",
	}}}
)

// The route handlers, in the table's order: decode, call Bills, answer. Errors go through
// ErrorFrom in wrap (server.go).

func (s *server) startBill(r *http.Request) (int, any, error) {
	body, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	// The body's resource is authorized before the body is judged: a client of another resource
	// learns nothing from the validation of a body it may not send.
	var named struct {
		Resource string `json:"resource"`
	}
	if json.Unmarshal(body, &named) == nil && strings.TrimSpace(named.Resource) != "" {
		e = authorize(callerFrom(r.Context()).client, access.OpStart, strings.TrimSpace(named.Resource))
	}
	var in workflows.BillInput
	if e == nil {
		in, e = DecodeStart(body)
	}
	if e == nil {
		e = authorize(callerFrom(r.Context()).client, access.OpStart, in.Resource)
	}
	if e != nil {
		s.stats.starts.WithLabelValues("refused").Inc()
		return 0, nil, e
	}
	resp, created, err := s.bills.Start(r.Context(), in)
	if err != nil {
		outcome := "error"
		if ErrorFrom(err).Status < 500 {
			outcome = "refused"
		}
		s.stats.starts.WithLabelValues(outcome).Inc()
		return 0, nil, err
	}
	s.stats.observeStage(resp.WorkflowID, resp.Stage)
	if resp.Pending != nil {
		s.stats.starts.WithLabelValues("pending").Inc()
		return http.StatusAccepted, resp, nil
	}
	if created {
		s.stats.starts.WithLabelValues("created").Inc()
		return http.StatusCreated, resp, nil
	}
	s.stats.starts.WithLabelValues("joined").Inc()
	return http.StatusOK, resp, nil
}

func (s *server) listBills(r *http.Request) (int, any, error) {
	f, e := ParseListFilter(r.URL.Query())
	if e != nil {
		return 0, nil, e
	}
	// A client limited to some resources sees only their bills.
	if c := callerFrom(r.Context()).client; c != nil && !c.AllResourcesAllowed() {
		if f.Resource != "" {
			if e := authorize(c, access.OpRead, f.Resource); e != nil {
				return 0, nil, e
			}
		} else {
			f.Resources = c.Resources
		}
	}
	resp, err := s.bills.List(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

func billRef(r *http.Request) BillRef {
	return BillRef{Resource: r.PathValue("resource"), BillID: r.PathValue("billId")}
}

// answerState serves a bill's state, as much of it as the caller may see (StateFor), and notes
// the stage it shows.
func (s *server) answerState(r *http.Request, state workflows.BillState, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	s.stats.observeStage(state.WorkflowID, state.Stage)
	return http.StatusOK, StateFor(callerFrom(r.Context()).client, r.PathValue("resource"), state), nil
}

// StateFor is what a client may see of a bill's state on resource. A client without `read` (a
// scanning station, an ERP allowed only to decide) gets the bill's identity and stage, never its
// content, whichever route answers (an Idempotency-Key that names an update applied before
// answers the state too). The eventCode and the collect URLs are capabilities (the collect page
// imports invoices into the bill at the cloud): only a client that may forward invoices or start
// the bill sees them. nil (an open API, the CLI) sees everything.
func StateFor(c *access.Client, resource string, st workflows.BillState) workflows.BillState {
	if c == nil {
		return st
	}
	if ok, _ := c.Allowed(access.OpRead, resource); !ok {
		return workflows.BillState{WorkflowID: st.WorkflowID, ID: st.ID, Stage: st.Stage, UpdatedAt: st.UpdatedAt,
			AwaitingRole: st.AwaitingRole, Bill: workflows.BillInput{BillID: st.Bill.BillID, Resource: st.Bill.Resource},
			Invoices: []workflows.InvoiceView{}, Approvals: []workflows.ApprovalRecord{}, History: []workflows.HistoryEntry{},
		}
	}
	if !mayCollect(c, resource) {
		// The state's view page is the collect eventCode's (the same eventCode opens the collect
		// page): a reader asks GET …/view-url, which answers a view-only eventCode.
		st.EventCode = ""
		st.Collect = workflows.URLs{}
		st.View = workflows.URLs{}
	}
	return st
}

// answerDecision serves a decision's answer, as much of it as the caller may see (DecisionFor),
// and notes the stage it shows.
func (s *server) answerDecision(r *http.Request, d workflows.Decision, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	s.stats.observeStage(d.WorkflowID, d.Stage)
	return http.StatusOK, DecisionFor(callerFrom(r.Context()).client, r.PathValue("resource"), d), nil
}

// DecisionFor is what a client may see of a decision's answer on resource: a client without
// `read` gets the bill's identity and stage (as StateFor); a Decision carries no capability.
func DecisionFor(c *access.Client, resource string, d workflows.Decision) workflows.Decision {
	if c == nil {
		return d
	}
	if ok, _ := c.Allowed(access.OpRead, resource); !ok {
		return workflows.Decision{WorkflowID: d.WorkflowID, ID: d.ID, Stage: d.Stage, UpdatedAt: d.UpdatedAt, AwaitingRole: d.AwaitingRole}
	}
	return d
}

// mayCollect: the client may hold the bill's collect capability (eventCode, collect URLs).
func mayCollect(c *access.Client, resource string) bool {
	if ok, _ := c.Allowed(access.OpInvoices, resource); ok {
		return true
	}
	ok, _ := c.Allowed(access.OpStart, resource)
	return ok
}

func (s *server) getBill(r *http.Request) (int, any, error) {
	st, err := s.bills.State(r.Context(), billRef(r))
	return s.answerState(r, st, err)
}

func (s *server) collectURL(r *http.Request) (int, any, error) {
	resp, err := s.bills.CollectURL(r.Context(), billRef(r), r.URL.Query().Get("client"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

func (s *server) viewURL(r *http.Request) (int, any, error) {
	if c := callerFrom(r.Context()).client; c != nil && !mayCollect(c, r.PathValue("resource")) {
		// While the bill collects its view page is the collect eventCode's, and that eventCode
		// opens the collect page too (workflows.viewOwnEventCode): a capability, not a read.
		st, err := s.bills.State(r.Context(), billRef(r))
		if err != nil {
			return 0, nil, err
		}
		if st.Stage == workflows.StageCollecting {
			return 0, nil, newError(http.StatusForbidden, CodeForbidden, "bill %s collects: its view page is its collect page, "+
				"which imports invoices into it; it needs operation %q or %q on resource %q (ask again once it is submitted)",
				billRef(r).ID(), access.OpInvoices, access.OpStart, r.PathValue("resource"))
		}
	}
	resp, err := s.bills.ViewURL(r.Context(), billRef(r), r.URL.Query().Get("client"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

// invoices checks the forwarded payload strictly (DecodeForward) and hands it to the bill.
func (s *server) invoices(r *http.Request) (int, any, error) {
	body, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	sig, e := DecodeForward(body)
	if e != nil {
		return 0, nil, e
	}
	resp, err := s.bills.Invoices(r.Context(), billRef(r), sig)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, resp, nil
}

func (s *server) removeInvoice(r *http.Request) (int, any, error) {
	req := workflows.RemoveInvoiceRequest{SerialNo: r.PathValue("serialNo"), Reason: r.URL.Query().Get("reason")}
	if e := checkTexts(&req); e != nil {
		return 0, nil, e
	}
	if e := stampDecision(callerFrom(r.Context()), r.PathValue("resource"), &req); e != nil {
		return 0, nil, e
	}
	d, err := s.bills.RemoveInvoice(r.Context(), billRef(r), req)
	return s.answerDecision(r, d, err)
}

// decide serves the routes that send one decision to the bill: the body, strictly decoded into
// the update's request (required unless the route says BodyOpt; never carrying `actor`), is
// stamped with who decides and goes to op; the bill's Decision (its state in brief) is the answer.
func decide[T any](required bool, op func(*Bills, context.Context, BillRef, T) (workflows.Decision, error)) func(*server, *http.Request) (int, any, error) {
	return func(s *server, r *http.Request) (int, any, error) {
		var req T
		if e := decodeBody(r, &req, required); e != nil {
			return 0, nil, e
		}
		if e := checkTexts(&req); e != nil {
			return 0, nil, e
		}
		if e := stampDecision(callerFrom(r.Context()), r.PathValue("resource"), &req); e != nil {
			return 0, nil, e
		}
		d, err := op(s.bills, r.Context(), billRef(r), req)
		return s.answerDecision(r, d, err)
	}
}

// MaxTextLen bounds a decision's free text (comment, reason, by, done) in characters: it is
// audited in the bill's state and history, which must stay small (histories continue as new at
// a few thousand events, each carrying it).
const MaxTextLen = 1000

// checkTexts refuses a decision whose free text is longer than MaxTextLen characters, naming it.
func checkTexts(req any) *Error {
	texts := map[string]string{}
	switch r := req.(type) {
	case *workflows.ApproveRequest:
		texts["comment"], texts["approver"] = r.Comment, r.Approver
	case *workflows.SubmitRequest:
		texts["by"] = r.By
	case *workflows.CancelRequest:
		texts["reason"], texts["by"] = r.Reason, r.By
	case *workflows.RetryRequest:
		texts["by"] = r.By
	case *workflows.ResolveRequest:
		texts["reason"], texts["by"], texts["done"] = r.Reason, r.By, r.Done
	case *workflows.AmendRequest:
		texts["reason"] = r.Reason
	case *workflows.RemoveInvoiceRequest:
		texts["reason"] = r.Reason
	case *workflows.WithdrawRequest:
		texts["reason"], texts["by"] = r.Reason, r.By
	case *workflows.VoucherReversalRequest:
		texts["reason"], texts["by"] = r.Reason, r.By
	}
	fields := map[string]string{}
	for name, v := range texts {
		if n := utf8.RuneCountInString(v); n > MaxTextLen {
			fields[name] = fmt.Sprintf("at most %d characters, got %d", MaxTextLen, n)
		} else if p := workflows.UserIDProblem(v); p != "" && (name == "approver" || name == "by") {
			// A person's id: an invisible character would make two ids look alike and differ.
			fields[name] = p
		}
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// EnterprisesResponse answers GET /v1/enterprises.
type EnterprisesResponse struct {
	Enterprises []enterprises.Info `json:"enterprises"`
	// AnyTaxNo: no registry file; one enterprise (RIMFLOW_CLOUD_*) serves every tax number.
	AnyTaxNo bool `json:"anyTaxNo"`
}

// PushAnswer is what the cloud reads of a push's answer.
type PushAnswer struct {
	ErrCode     string `json:"errcode"`
	Description string `json:"description"`
}

func (s *server) listEnterprises(*http.Request) (int, any, error) {
	out := EnterprisesResponse{Enterprises: []enterprises.Info{}}
	if s.bills.Enterprises == nil {
		out.AnyTaxNo = true
		return http.StatusOK, out, nil
	}
	for _, e := range s.bills.Enterprises.List() {
		if e.TaxNo == enterprises.AnyTaxNo {
			out.AnyTaxNo = true
			continue
		}
		out.Enterprises = append(out.Enterprises, e)
	}
	return http.StatusOK, out, nil
}

// push serves the cloud's pushes: no bearer token (the cloud has none), the enterprise's
// encrypt_key authenticates it instead.
func (s *server) push(w http.ResponseWriter, r *http.Request) {
	var recv *invoicecloud.PushReceiver
	if s.bills.Enterprises != nil {
		recv = s.bills.Enterprises.Pushes()
	}
	if recv == nil {
		recv, _ = invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{}) // knows no enterprise: refuses
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	rec := &statusRecorder{ResponseWriter: w}
	taxNo := r.PathValue("taxNo")
	noBill := false
	recv.Serve(rec, r.WithContext(ctx), taxNo, s.pushDeliver(taxNo, &noBill))
	enterprise := "unknown" // the path is the caller's: only an enterprise the registry knows is a label
	if s.bills.Enterprises != nil && rec.status != http.StatusUnauthorized {
		if _, err := s.bills.Enterprises.Lookup(taxNo); err == nil {
			enterprise = taxNo
		}
	}
	if noBill {
		s.stats.pushes.WithLabelValues(enterprise, "no_bill").Inc()
		return
	}
	s.stats.observePush(enterprise, cmp.Or(rec.status, http.StatusOK))
}

// stampDecision authorizes an approval for its role (approve:<role> on the bill's resource, which
// the route could not check before the body was read) and stamps the decision with its caller.
func stampDecision(c caller, resource string, req any) *Error {
	if r, ok := req.(*workflows.ApproveRequest); ok {
		if role := strings.ToLower(strings.TrimSpace(r.Role)); role != "" {
			if e := authorize(c.client, access.Approve(role), resource); e != nil {
				return e
			}
		}
	}
	return Stamp(workflows.Actor{Client: clientName(c.client), User: c.user}, req)
}

// Stamp records who decides on a decision request (a pointer to SubmitRequest, ApproveRequest,
// ImagesRequest, VoucherRequest, CancelRequest, RetryRequest, ResolveRequest, AmendRequest or
// RemoveInvoiceRequest): its actor is the
// client and the person (actor.User, else the person the request names: approver or by), and a
// person field the request leaves empty becomes actor.User. An approver other than actor.User is
// refused (400). The HTTP routes stamp with the authenticated client; the CLI with CLIClient.
func Stamp(actor workflows.Actor, req any) *Error {
	person := func(named *string) {
		if strings.TrimSpace(*named) == "" {
			*named = actor.User
		}
		if actor.User == "" {
			actor.User = strings.TrimSpace(*named)
		}
	}
	switch r := req.(type) {
	case *workflows.ApproveRequest:
		if actor.User != "" && strings.TrimSpace(r.Approver) != "" && !workflows.SamePerson(r.Approver, actor.User) {
			return ValidationFailed(map[string]string{"approver": fmt.Sprintf("must be the acting user %q (%s) or left out", actor.User, HeaderActingUser)})
		}
		person(&r.Approver)
		r.Actor = &actor
	case *workflows.SubmitRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.WithdrawRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.VoucherReversalRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.CancelRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.RetryRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.ResolveRequest:
		person(&r.By)
		r.Actor = &actor
	case *workflows.ImagesRequest:
		r.Actor = &actor
	case *workflows.VoucherRequest:
		r.Actor = &actor
	case *workflows.AmendRequest:
		r.Actor = &actor
	case *workflows.RemoveInvoiceRequest:
		r.Actor = &actor
	default:
		return newError(http.StatusInternalServerError, CodeInternal, "internal error: %T is not a decision", req)
	}
	return nil
}

// codecRoute is one direction ("decode" or "encode") of Temporal's remote codec; done is what
// it does to the payloads ("decrypted").
func codecRoute(direction, done, summary string) route {
	return route{
		Method: "POST", Path: "/v1/codec/" + direction, Operation: "codec" + strings.ToUpper(direction[:1]) + direction[1:], Open: true, CodecQuery: true,
		Summary: summary,
		Body:    codecPayloads{}, Query: []param{preserveStorageRefs},
		Responses: []response{
			{http.StatusOK, "the payloads, " + done, codecPayloads{}, ""},
			{http.StatusBadRequest, "a body that is not the protocol's payloads (answered in plain text)", nil, "text/plain"},
			{http.StatusUnauthorized, "no bearer token or session", ErrorBody{}, ""},
			{http.StatusForbidden, "the client may not " + direction + ", or an origin or namespace not served", ErrorBody{}, ""},
			{http.StatusNotFound, "this API has no payload codec", ErrorBody{}, ""},
		},
		raw: (*server).serveCodec,
	}
}

// serveCodec hands the request to the codec server, which authenticates and answers CORS itself.
func (s *server) serveCodec(w http.ResponseWriter, r *http.Request) {
	if s.codec == nil {
		writeError(w, newError(http.StatusNotFound, CodeNotFound, "this API has no payload codec (payload encryption is off and no key is configured)"))
		return
	}
	s.codec.ServeHTTP(w, r)
}

func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.doc)
}

func (s *server) health(r *http.Request) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.bills.Health(ctx); err != nil {
		return 0, nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "Temporal is unreachable")
	}
	return http.StatusOK, HealthResponse{Status: "ok"}, nil
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	metrics.Handler(s.registry).ServeHTTP(w, r)
}

// errorResponses lists the errors a route can answer, derived from what it does.
func errorResponses(rt route) []response {
	if rt.raw != nil && rt.Open {
		// Serves its own answers, listed in Responses; only an unknown query parameter is the
		// server's (refused before the route runs), except on the codec's, which ignore them.
		if rt.CodecQuery {
			return nil
		}
		return []response{{http.StatusBadRequest, "an unknown query parameter", ErrorBody{}, ""}}
	}
	var out []response
	add := func(status int, desc string) {
		out = append(out, response{status, desc, ErrorBody{}, ""})
	}
	reachesBill := rt.Path != "/v1/bills" && strings.HasPrefix(rt.Path, "/v1/bills")
	add(http.StatusBadRequest, "invalid input (error.fields names every bad field), including a query parameter the route does not take")
	if !rt.Open {
		add(http.StatusUnauthorized, "missing or wrong bearer token")
		add(http.StatusForbidden, "the client may not use this operation on this resource")
		add(http.StatusTooManyRequests, "too many wrong bearer tokens from this address: no token from it is checked for a while (Retry-After)")
	}
	if reachesBill {
		add(http.StatusNotFound, "no such bill")
	}
	if rt.Operation == "startBill" || reachesBill && rt.Operation != "getBill" {
		add(http.StatusConflict, "refused by the bill; error.subCode says why: "+strings.Join(SubCodes, ", "))
	}
	if rt.Body != nil {
		add(http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
	}
	if rt.Method == "POST" && rt.raw == nil {
		add(http.StatusUnsupportedMediaType, "a POST must carry Content-Type: application/json")
	}
	if keyedCalls[rt.Operation] {
		add(http.StatusUnprocessableEntity, "the Idempotency-Key was used before with another request (error.fields names the header): a new request needs a new key")
	}
	if cloudCalls[rt.Operation] {
		add(http.StatusBadGateway, "Invoice Cloud refused the call the operation needed: error.cloudCode, error.field and error.step say what")
	}
	if !rt.Open {
		add(http.StatusServiceUnavailable, "Temporal is unreachable")
	}
	if reachesBill || rt.Operation == "startBill" {
		add(http.StatusGatewayTimeout, "the bill did not answer in time (its worker may be down or busy); the call may still take effect")
	}
	return out
}

// keyedCalls are the operations that tell an Idempotency-Key reused with another request (422):
// a start and the bill's updates (a forwarded payload is deduplicated by its invoices instead).
var keyedCalls = map[string]bool{
	"startBill": true, "amendBill": true, "removeInvoice": true, "submitBill": true, "decideApproval": true,
	"reportImages": true, "saveVoucher": true, "cancelBill": true, "retryBill": true, "resolveCompensation": true,
	"saveVoucherSet": true,
}

// cloudCalls are the operations that may call Invoice Cloud and answer its refusal (502).
var cloudCalls = map[string]bool{
	"startBill": true, "getCollectUrl": true, "getViewUrl": true, "removeInvoice": true, "submitBill": true,
	"decideApproval": true, "reportImages": true, "saveVoucher": true, "cancelBill": true, "retryBill": true,
	"resolveCompensation": true, "saveVoucherSet": true,
	// An amend of the line fields while invoices are bound sends them at once (billSave 30); a
	// reversal takes the voucher back at the cloud.
	"amendBill": true, "reverseVoucher": true,
}

// RouteAccess is how one route is authorized, for the tests that walk the route table (the
// authorization matrix of systest/apiit).
type RouteAccess struct {
	Method, Path, Operation string
	Op, OrOp                string // the operations that open it ("" with Open)
	Open                    bool   // no bearer token needed (it authenticates by itself, or is public)
}

// Authorization lists every route of the table with the operation it needs.
func Authorization() []RouteAccess {
	var out []RouteAccess
	for _, rt := range routes() {
		out = append(out, RouteAccess{Method: rt.Method, Path: rt.Path, Operation: rt.Operation, Op: rt.Op, OrOp: rt.OrOp, Open: rt.Open})
	}
	return out
}

func (rt route) maxBody() int64 {
	if rt.MaxBody > 0 {
		return rt.MaxBody
	}
	return MaxBodyBytes
}
