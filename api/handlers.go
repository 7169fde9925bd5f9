package api

import (
	"context"
	"net/http"
	"time"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// The route handlers: decode, call Bills, answer. Errors go through ErrorFrom in wrap.

func (s *server) startBill(r *http.Request) (int, any, error) {
	body, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	in, e := DecodeStart(body)
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
	resp, err := s.bills.List(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

func billRef(r *http.Request) BillRef {
	return BillRef{Resource: r.PathValue("resource"), BillID: r.PathValue("billId")}
}

// answerState serves a bill's state and notes the stage it shows.
func (s *server) answerState(state workflows.BillState, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	s.stats.observeStage(state.WorkflowID, state.Stage)
	return http.StatusOK, state, nil
}

func (s *server) getBill(r *http.Request) (int, any, error) {
	return s.answerState(s.bills.State(r.Context(), billRef(r)))
}

func (s *server) collectURL(r *http.Request) (int, any, error) {
	resp, err := s.bills.CollectURL(r.Context(), billRef(r), r.URL.Query().Get("client"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, resp, nil
}

// invoices decodes the forwarded payload exactly like the worker decodes the cloud's socket
// messages (invoicecloud.DecodeMessage: tolerant of the cloud's number/string mix, unknown
// fields kept), so both ways in deliver the same invoices.
func (s *server) invoices(r *http.Request) (int, any, error) {
	body, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	msg, err := invoicecloud.DecodeMessage(body)
	if err != nil {
		return 0, nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: "the body must be a socket payload {\"invoiceData\":[…],\"attachData\":[…]}",
			Fields:  map[string]string{"body": "must be a JSON object"}}
	}
	ref := billRef(r)
	sig := workflows.InvoicesSignal{InvoiceData: msg.InvoiceData, AttachData: msg.AttachData}
	if err := s.bills.Invoices(r.Context(), ref, sig); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, InvoicesAccepted{ID: ref.ID(), WorkflowID: ref.WorkflowID(), Invoices: len(sig.InvoiceData)}, nil
}

func (s *server) submit(r *http.Request) (int, any, error) {
	var req workflows.SubmitRequest
	if e := decodeBody(r, &req, false); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Submit(r.Context(), billRef(r), req))
}

func (s *server) approve(r *http.Request) (int, any, error) {
	var req workflows.ApproveRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Approve(r.Context(), billRef(r), req))
}

func (s *server) images(r *http.Request) (int, any, error) {
	var req workflows.ImagesRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Images(r.Context(), billRef(r), req))
}

func (s *server) voucher(r *http.Request) (int, any, error) {
	var req workflows.VoucherRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Voucher(r.Context(), billRef(r), req))
}

func (s *server) cancel(r *http.Request) (int, any, error) {
	var req workflows.CancelRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Cancel(r.Context(), billRef(r), req))
}

func (s *server) retry(r *http.Request) (int, any, error) {
	var req workflows.RetryRequest
	if e := decodeBody(r, &req, false); e != nil {
		return 0, nil, e
	}
	return s.answerState(s.bills.Retry(r.Context(), billRef(r), req))
}

func (s *server) health(r *http.Request) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.bills.Health(ctx); err != nil {
		return 0, nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "Temporal is unreachable")
	}
	return http.StatusOK, HealthResponse{Status: "ok"}, nil
}
