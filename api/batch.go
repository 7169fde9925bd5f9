package api

import (
	"cmp"
	"fmt"
	"net/http"
	"sync"

	"rimflow/internal/access"
	"rimflow/workflows"
)

// MaxBatch bounds a batch call's bills: each bill is one Temporal call (a describe and a query,
// or an update), so a batch is bounded like a page of the list.
const MaxBatch = 100

// batchParallel is how many bills of one batch are asked at once: enough to hide Temporal's
// round trips, few enough that one batch does not crowd out the other callers.
const batchParallel = 8

// BatchBill names one bill of a batch.
type BatchBill struct {
	Resource string `json:"resource"`
	BillID   string `json:"billId"`
}

// BatchStatesRequest is the body of POST /v1/batch/states.
type BatchStatesRequest struct {
	Bills []BatchBill `json:"bills"`
}

// BatchApprovalsRequest is the body of POST /v1/batch/approvals: one decision of one role, for
// each bill.
type BatchApprovalsRequest struct {
	Role     string      `json:"role"`
	Decision string      `json:"decision"`
	Approver string      `json:"approver,omitempty"`
	Comment  string      `json:"comment,omitempty"`
	Bills    []BatchBill `json:"bills"`
}

// BatchItem is one bill's answer to POST /v1/batch/states: the status and state GET …/{billId}
// would have answered, or its error.
type BatchItem struct {
	Resource string               `json:"resource"`
	BillID   string               `json:"billId"`
	Status   int                  `json:"status"`
	State    *workflows.BillState `json:"state,omitempty"`
	Error    *Error               `json:"error,omitempty"`
}

// BatchResponse answers POST /v1/batch/states: one item per bill, in the request's order.
type BatchResponse struct {
	Results   []BatchItem `json:"results"`
	Succeeded int         `json:"succeeded"`
	Failed    int         `json:"failed"`
}

// BatchDecisionItem is one bill's answer to a batch of decisions: the status and Decision the
// decision would have answered alone (its state in brief), or its error.
type BatchDecisionItem struct {
	Resource string              `json:"resource"`
	BillID   string              `json:"billId"`
	Status   int                 `json:"status"`
	State    *workflows.Decision `json:"state,omitempty"`
	Error    *Error              `json:"error,omitempty"`
}

// BatchDecisionsResponse answers POST /v1/batch/approvals: one item per bill, in the request's
// order. A bill's failure never undoes another's success (no all-or-nothing): read each item's
// status.
type BatchDecisionsResponse struct {
	Results   []BatchDecisionItem `json:"results"`
	Succeeded int                 `json:"succeeded"`
	Failed    int                 `json:"failed"`
}

// checkBatch refuses an empty, oversized or malformed list of bills, naming each bad entry.
func checkBatch(bills []BatchBill) *Error {
	if len(bills) == 0 {
		return ValidationFailed(map[string]string{"bills": "required: at least one bill"})
	}
	if len(bills) > MaxBatch {
		return newError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "bills: at most %d bills in one batch, got %d", MaxBatch, len(bills))
	}
	fields := map[string]string{}
	seen := map[BatchBill]int{}
	for i, b := range bills {
		ref := BillRef{Resource: b.Resource, BillID: b.BillID}
		if e := ref.check(); e != nil {
			for k, v := range e.Fields {
				fields[fmt.Sprintf("bills[%d].%s", i, k)] = v
			}
			continue
		}
		if j, dup := seen[b]; dup {
			fields[fmt.Sprintf("bills[%d]", i)] = fmt.Sprintf("repeats bills[%d]", j)
		}
		seen[b] = i
	}
	if len(fields) > 0 {
		return ValidationFailed(fields)
	}
	return nil
}

// billOutcome is one bill's answer in a batch: its status and value, or its error.
type billOutcome[T any] struct {
	status int
	value  *T
	err    *Error
}

// eachBill runs one call per bill, batchParallel at a time, and gathers the answers in order;
// succeeded counts those without an error.
func eachBill[T any](bills []BatchBill, one func(BatchBill) (int, *T, error)) (outs []billOutcome[T], succeeded int) {
	outs = make([]billOutcome[T], len(bills))
	sem := make(chan struct{}, batchParallel)
	var wg sync.WaitGroup
	for i, b := range bills {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, v, err := one(b)
			if err != nil {
				e := ErrorFrom(err)
				outs[i] = billOutcome[T]{status: cmp.Or(e.Status, http.StatusInternalServerError), err: e}
				return
			}
			outs[i] = billOutcome[T]{status: status, value: v}
		}()
	}
	wg.Wait()
	for _, o := range outs {
		if o.err == nil {
			succeeded++
		}
	}
	return outs, succeeded
}

// batchStates serves POST /v1/batch/states: each bill's state, as GET …/{billId} would answer it
// to this client (read is checked on each bill's resource).
func (s *server) batchStates(r *http.Request) (int, any, error) {
	var req BatchStatesRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	if e := checkBatch(req.Bills); e != nil {
		return 0, nil, e
	}
	c := callerFrom(r.Context()).client
	outs, ok := eachBill(req.Bills, func(b BatchBill) (int, *workflows.BillState, error) {
		if e := authorize(c, access.OpRead, b.Resource); e != nil {
			return 0, nil, e
		}
		st, err := s.bills.State(r.Context(), BillRef{Resource: b.Resource, BillID: b.BillID})
		if err != nil {
			return 0, nil, err
		}
		s.stats.observeStage(st.WorkflowID, st.Stage)
		st = StateFor(c, b.Resource, st)
		return http.StatusOK, &st, nil
	})
	resp := BatchResponse{Results: make([]BatchItem, len(outs)), Succeeded: ok, Failed: len(outs) - ok}
	for i, o := range outs {
		resp.Results[i] = BatchItem{Resource: req.Bills[i].Resource, BillID: req.Bills[i].BillID, Status: o.status, State: o.value, Error: o.err}
	}
	return http.StatusOK, resp, nil
}

// batchApprovals serves POST /v1/batch/approvals: the same decision of one role on each bill, as
// POST …/approvals would apply it (approve:<role> is checked on each bill's resource; the
// Idempotency-Key, when given, names the update on every bill, so a repeated batch applies
// nothing twice).
func (s *server) batchApprovals(r *http.Request) (int, any, error) {
	var req BatchApprovalsRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	decision := workflows.ApproveRequest{Role: req.Role, Decision: req.Decision, Approver: req.Approver, Comment: req.Comment}
	fields := map[string]string{}
	if decision.Role == "" {
		fields["role"] = "required"
	}
	if decision.Decision == "" {
		fields["decision"] = "required"
	}
	if e := checkBatch(req.Bills); e != nil {
		if e.Status != http.StatusBadRequest {
			return 0, nil, e
		}
		for k, v := range e.Fields {
			fields[k] = v
		}
	}
	if len(fields) > 0 {
		return 0, nil, ValidationFailed(fields)
	}
	if e := checkTexts(&decision); e != nil {
		return 0, nil, e
	}
	// Who decides is the same for every bill: an approver other than the acting user is refused
	// for the whole call.
	probe := decision
	if e := Stamp(workflows.Actor{Client: clientName(callerFrom(r.Context()).client), User: callerFrom(r.Context()).user}, &probe); e != nil {
		return 0, nil, e
	}
	ctx := r.Context()
	outs, ok := eachBill(req.Bills, func(b BatchBill) (int, *workflows.Decision, error) {
		one := decision
		if e := stampDecision(callerFrom(ctx), b.Resource, &one); e != nil {
			return 0, nil, e
		}
		d, err := s.bills.Approve(ctx, BillRef{Resource: b.Resource, BillID: b.BillID}, one)
		if err != nil {
			return 0, nil, err
		}
		s.stats.observeStage(d.WorkflowID, d.Stage)
		d = DecisionFor(callerFrom(ctx).client, b.Resource, d)
		return http.StatusOK, &d, nil
	})
	resp := BatchDecisionsResponse{Results: make([]BatchDecisionItem, len(outs)), Succeeded: ok, Failed: len(outs) - ok}
	for i, o := range outs {
		resp.Results[i] = BatchDecisionItem{Resource: req.Bills[i].Resource, BillID: req.Bills[i].BillID, Status: o.status, State: o.value, Error: o.err}
	}
	return http.StatusOK, resp, nil
}
