package simulator

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Faults is what POST /__sim/faults sets. The zero value injects nothing.
type Faults struct {
	// ErrorRate is the probability (0..1) that a business call (message, deduction) answers
	// HTTP 5xx instead of being processed. Draws come from the seeded stream.
	ErrorRate float64 `json:"errorRate"`
	// ErrorStatus is the HTTP status of an injected error (default 503, must be 5xx).
	ErrorStatus int `json:"errorStatus,omitempty"`
	// MessageTypes limits ErrorRate to these messageTypes ("deduction" for the deduction API;
	// "billSave:60" for billSave calls of one status); empty means every business call.
	MessageTypes []string `json:"messageTypes,omitempty"`
	// FailAfterApply applies the call first and then answers the 5xx: a lost response, the case
	// idempotent retries (same messageId) exist for.
	FailAfterApply bool `json:"failAfterApply,omitempty"`
	// LatencyMs is added before every product endpoint answers (auth, business, poll, socket, pages).
	LatencyMs int `json:"latencyMs"`
	// DropSockets closes every live socket now and every new one DropAfterMs after it opens.
	DropSockets bool `json:"dropSockets"`
	// DropAfterMs is how long a new socket lives while DropSockets is on (default 100).
	DropAfterMs int `json:"dropAfterMs,omitempty"`
	// ExpireTokens invalidates every token issued so far, once, when the faults are set.
	ExpireTokens bool `json:"expireTokens"`
	// HoldReceipts keeps every poll receipt waiting, unanswered and not applied, until the fault
	// is cleared or the caller gives up: the moment between a poll and its receipt, held open so a
	// test can kill the receiver right there. Stats.ReceiptsHeld counts the receipts waiting.
	HoldReceipts bool `json:"holdReceipts,omitempty"`
	// RefuseCode turns a drawn fault of the message API (getEventCode, billSave, voucherSave, the
	// unbind) into a business refusal instead of an HTTP 5xx: HTTP 200 with this errorCode, naming
	// RefuseField, nothing applied. It plays a refusal the product cannot foresee (a value the
	// real cloud rejects for its own reasons), which fails the bill's step for good.
	RefuseCode  string `json:"refuseCode,omitempty"`
	RefuseField string `json:"refuseField,omitempty"`
}

// faultBox is the faults being injected and the seeded stream their draws come from. The Sim's
// mu guards it.
type faultBox struct {
	faults    Faults
	faultRand *rand.Rand
	stats     *Stats
}

func (f Faults) validate() error {
	switch {
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return fieldError("errorRate", "must be between 0 and 1")
	case f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599):
		return fieldError("errorStatus", "must be a 5xx HTTP status")
	case f.LatencyMs < 0 || f.LatencyMs > 120_000:
		return fieldError("latencyMs", "must be between 0 and 120000")
	case f.DropAfterMs < 0 || f.DropAfterMs > 600_000:
		return fieldError("dropAfterMs", "must be between 0 and 600000")
	}
	if f.RefuseCode == codeOK {
		return fieldError("refuseCode", "must be an error code, not "+codeOK)
	}
	if f.RefuseCode != "" && f.FailAfterApply {
		return fieldError("refuseCode", "a refusal applies nothing: not with failAfterApply")
	}
	for i, t := range f.MessageTypes {
		if t == "" {
			return fieldError(fmt.Sprintf("messageTypes[%d]", i), "must not be empty")
		}
	}
	return nil
}

// SetFaults replaces the injected faults; ExpireTokens and DropSockets act at once.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.ErrorStatus == 0 {
		f.ErrorStatus = http.StatusServiceUnavailable
	}
	if f.DropAfterMs == 0 {
		f.DropAfterMs = 100
	}
	s.mu.Lock()
	s.faults = f
	if f.ExpireTokens {
		for _, t := range s.tokens {
			t.revoked = true
		}
	}
	var drop []*socketConn
	if f.DropSockets {
		for c := range s.sockets {
			drop = append(drop, c)
		}
		s.stats.SocketsDropped += len(drop)
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.drop()
	}
	return nil
}

// ClearFaults stops injecting faults (revoked tokens stay revoked).
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	s.faults = Faults{}
	s.mu.Unlock()
}

// CurrentFaults returns what is being injected.
func (s *Sim) CurrentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.MessageTypes = slices.Clone(f.MessageTypes)
	return f
}

// injectLatency sleeps for the configured latency, or until the request ends.
func (s *Sim) injectLatency(r *http.Request) {
	s.mu.Lock()
	d := time.Duration(s.faults.LatencyMs) * time.Millisecond
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// faultFor draws whether this business call fails; caller holds the Sim's mu.
// It returns the HTTP status (0 = no fault) and whether to apply the call first.
func (b *faultBox) faultFor(kinds ...string) (status int, afterApply bool) {
	f := b.faults
	if f.ErrorRate <= 0 {
		return 0, false
	}
	if len(f.MessageTypes) > 0 && !slices.ContainsFunc(kinds, func(k string) bool { return slices.Contains(f.MessageTypes, k) }) {
		return 0, false
	}
	if b.faultRand.Float64() >= f.ErrorRate {
		return 0, false
	}
	b.stats.FaultsInjected++
	return f.ErrorStatus, f.FailAfterApply
}

// holdReceipt waits while HoldReceipts is set. It answers false when the caller went away (or the
// simulator closed) meanwhile: the receipt is then neither applied nor answered.
func (s *Sim) holdReceipt(r *http.Request) bool {
	s.mu.Lock()
	if !s.faults.HoldReceipts {
		s.mu.Unlock()
		return true
	}
	s.stats.ReceiptsHeld++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stats.ReceiptsHeld--
		s.mu.Unlock()
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return false
		case <-s.done:
			return false
		case <-tick.C:
		}
		s.mu.Lock()
		held := s.faults.HoldReceipts
		s.mu.Unlock()
		if !held {
			return true
		}
	}
}

// FieldError is a bad-input error naming the offending field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldError(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
