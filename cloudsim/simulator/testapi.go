package simulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// The /__sim/ JSON interface: a contract other programs (tests, devstack) rely on.

func writeSimError(w http.ResponseWriter, status int, err error) {
	body := map[string]any{"error": err.Error()}
	var fe *FieldError
	if errors.As(err, &fe) {
		body["field"] = fe.Field
	}
	writeJSON(w, status, body)
}

// strictDecode decodes a /__sim/ body; unknown fields and wrong types are errors naming the field.
func strictDecode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fieldError(strings.Trim(name, `"`), "unknown field")
		}
		return jsonFieldError("body", err)
	}
	return nil
}

func eventCodeStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownEventCode):
		return http.StatusNotFound
	case errors.Is(err, ErrEventCodeExpired):
		return http.StatusGone
	case errors.Is(err, ErrLinkKeyConsumed):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

func (s *Sim) simCollect(w http.ResponseWriter, r *http.Request) {
	var req struct {
		EventCode  string            `json:"eventCode"`
		URL        string            `json:"url"` // a bill's collect URL, either edition
		Count      *int              `json:"count"`
		Invoices   []json.RawMessage `json:"invoices"`
		AttachData []Attach          `json:"attachData"`
	}
	if err := strictDecode(r, &req); err != nil {
		writeSimError(w, http.StatusBadRequest, err)
		return
	}
	var (
		res CollectResult
		err error
	)
	if req.URL != "" && req.EventCode == "" {
		req.EventCode, err = codeOfCollectURL(req.URL)
	}
	switch {
	case err != nil:
	case strings.TrimSpace(req.EventCode) == "":
		err = fieldError("eventCode", "required (or url)")
	case req.Count != nil && req.Invoices != nil:
		err = fieldError("count", "give count or invoices, not both")
	case req.Count != nil:
		res, err = s.CollectCount(req.EventCode, *req.Count)
	case req.Invoices != nil:
		res, err = s.CollectRecords(req.EventCode, req.Invoices, req.AttachData)
	default:
		err = fieldError("count", "required (or invoices)")
	}
	if err != nil {
		writeSimError(w, eventCodeStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeFound answers v, or a 404 naming field when the lookup found nothing.
func writeFound[T any](w http.ResponseWriter, v T, found bool, field, reason string) {
	if !found {
		writeSimError(w, http.StatusNotFound, fieldError(field, reason))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) simBill(w http.ResponseWriter, r *http.Request) {
	v, ok := s.Bill(r.PathValue("resource"), r.PathValue("billId"))
	writeFound(w, v, ok, "billId", "unknown bill "+r.PathValue("resource")+"/"+r.PathValue("billId"))
}

func (s *Sim) simLinkKey(w http.ResponseWriter, r *http.Request) {
	v, ok := s.LinkKey(r.PathValue("linkKey"))
	writeFound(w, v, ok, "linkKey", "unknown (no getEventCode or poll named it)")
}

func (s *Sim) simInvoice(w http.ResponseWriter, r *http.Request) {
	v, ok := s.Invoice(r.PathValue("serialNo"))
	writeFound(w, v, ok, "serialNo", "not in the invoice pool")
}

func (s *Sim) simStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) simSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := strictDecode(r, &f); err != nil {
		writeSimError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeSimError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, s.CurrentFaults())
}

func (s *Sim) simGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.CurrentFaults())
}

func (s *Sim) simClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, s.CurrentFaults())
}

// simClock: POST /__sim/clock {"advance":"11m"} moves the simulator clock forward.
func (s *Sim) simClock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Advance string `json:"advance"`
	}
	if err := strictDecode(r, &req); err != nil {
		writeSimError(w, http.StatusBadRequest, err)
		return
	}
	d, err := time.ParseDuration(req.Advance)
	if err != nil || d < 0 {
		writeSimError(w, http.StatusBadRequest, fieldError("advance", "must be a non-negative Go duration such as 11m"))
		return
	}
	s.Advance(d)
	writeJSON(w, http.StatusOK, map[string]any{"now": s.Now().Format(time.RFC3339Nano)})
}

// SampleView is one invoice the collect page lists.
type SampleView struct {
	Compliant bool    `json:"compliant"`
	Reason    string  `json:"reason,omitempty"`
	Imported  bool    `json:"imported"`
	Invoice   Invoice `json:"invoice"`
}

// Samples returns what the collect page of eventCode lists.
func (s *Sim) Samples(eventCode string) ([]SampleView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.lookupEventCode(eventCode)
	if err != nil {
		return nil, err
	}
	return s.sampleViews(b), nil
}

// sampleViews lists the visible samples; caller holds s.mu.
func (s *sampler) sampleViews(b *bill) []SampleView {
	n := s.visibleSamples(b)
	out := make([]SampleView, 0, n)
	for i := 0; i < n; i++ {
		sm := b.samples[i]
		out = append(out, SampleView{Compliant: sm.compliant, Reason: sm.reason, Imported: b.imported[i], Invoice: sm.inv.clone()})
	}
	return out
}

func (s *Sim) simSamples(w http.ResponseWriter, r *http.Request) {
	v, err := s.Samples(r.PathValue("eventCode"))
	if err != nil {
		writeSimError(w, eventCodeStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"samples": v})
}

func (s *Sim) simBills(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"bills": s.Bills()})
}

func (s *Sim) simInvoices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"invoices": s.Invoices()})
}

func (s *Sim) simRelease(w http.ResponseWriter, r *http.Request) {
	v, err := s.Release(r.PathValue("serialNo"))
	switch {
	case errors.Is(err, ErrUnknownSerialNo):
		writeSimError(w, http.StatusNotFound, fieldError("serialNo", "not in the invoice pool"))
	case err != nil:
		writeSimError(w, http.StatusConflict, err)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Sim) simTokens(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"tokens": s.IssuedTokens()})
}
