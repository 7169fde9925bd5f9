package invoicecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"rimflow/invoicecloud/aesecb"
	"rimflow/invoicecloud/flex"
)

// Pushed invoices (AWS收票推送, seed-003): per enterprise the cloud is given a push address (the
// "AWS收票推送表": enterprise name, tax number, client id, URL); when the user imports invoices
// into a bill, the cloud POSTs them there and retries until it gets a success answer — at least
// once, so duplicates happen. The exact scheme is not public; rimflow assumes [assumed]:
//
//	POST <push URL>, Content-Type text/plain
//	body = Base64(AES-128-ECB(encrypt_key, JSON)), PKCS#7 — the enterprise's encrypt_key
//	JSON = {"msgId", "timestamp" (ms), "client_id", "tin", "ghf_mc", "eventType":"push-invoice",
//	        "bxd_key" (billId), "billNumber", "resource",
//	        "data":{"data":[invoice…], "attachData":[…], "invoicesAmount", "invoicesTaxAmount"}}
//	success answer: HTTP 200 {"errcode":"0000"}; anything else is retried with the same msgId.
//
// A body that decrypts with the enterprise's key and names its tax number and client id is
// authentic (only the cloud and the enterprise hold the key). A replay is refused when its
// timestamp is older than MaxAge, and recognised (Push.Replayed) when its msgId was acknowledged.

// PushEnterprise is what the receiving side knows of one enterprise: the push table's row and
// the enterprise authorization's encrypt_key.
type PushEnterprise struct {
	TaxNo      string
	Name       string
	ClientID   string
	EncryptKey string
}

// PushReceiverConfig configures a PushReceiver.
type PushReceiverConfig struct {
	Enterprises []PushEnterprise
	// MaxAge refuses a push whose timestamp is further than this from now (default 10 min): a
	// captured push cannot be replayed later.
	MaxAge time.Duration
	// Now is the receiver's clock (default time.Now).
	Now func() time.Time
	// SeenFor is how long a push is remembered (default 7 days, at most MaxSeen of them): the
	// cloud's retries of a push it sent before are taken past MaxAge when they match it (pushseen.go).
	SeenFor time.Duration
	// MaxSeen bounds the pushes remembered (default 100,000; the oldest are forgotten first).
	MaxSeen int
}

// DefaultPushMaxAge is PushReceiverConfig.MaxAge's default.
const DefaultPushMaxAge = 10 * time.Minute

// PushReceiver authenticates and decodes pushes. Safe for concurrent use.
type PushReceiver struct {
	maxAge  time.Duration
	now     func() time.Time
	byTaxNo map[string]PushEnterprise

	mu    sync.Mutex
	acked map[string]time.Time // msgId → its timestamp, kept SeenFor
	seen  seenPushes           // msgId → the body first taken, kept SeenFor (pushseen.go)
}

// Push is one authenticated push.
type Push struct {
	MsgID    string
	TaxNo    string
	ClientID string
	Sent     time.Time
	BillID   string // bxd_key
	BillNo   string
	Resource string
	// Message holds the invoices (Via "push", MsgID set).
	Message Message
	// Replayed: this msgId was acknowledged before. Answer success again; do not deliver again.
	Replayed bool
	// Plain is the push as it decrypted (the JSON above): what a relay passes on (SealPush).
	Plain json.RawMessage
}

// NewPushReceiver validates cfg; a bad enterprise entry is named (enterprises[i].encryptKey).
func NewPushReceiver(cfg PushReceiverConfig) (*PushReceiver, error) {
	r := &PushReceiver{maxAge: cfg.MaxAge, now: cfg.Now, byTaxNo: map[string]PushEnterprise{}, acked: map[string]time.Time{},
		seen: newSeenPushes(cfg.SeenFor, cfg.MaxSeen)}
	if r.maxAge == 0 {
		r.maxAge = DefaultPushMaxAge
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.maxAge < 0 {
		return nil, ConfigError("maxAge", "must not be negative")
	}
	for i, e := range cfg.Enterprises {
		p := fmt.Sprintf("enterprises[%d].", i)
		switch {
		case !ValidTaxNo(e.TaxNo):
			return nil, ConfigError(p+"taxNo", "not a taxpayer id")
		case strings.TrimSpace(e.ClientID) == "":
			return nil, ConfigError(p+"clientId", "required")
		case len(e.EncryptKey) != aesecb.KeyLen:
			return nil, ConfigError(p+"encryptKey", "must be the 16-character encrypt_key")
		}
		if _, dup := r.byTaxNo[strings.ToUpper(e.TaxNo)]; dup {
			return nil, ConfigError(p+"taxNo", "listed twice")
		}
		r.byTaxNo[strings.ToUpper(e.TaxNo)] = e
	}
	return r, nil
}

// The codes of a refused push (Error.Code), and of the success answer: the standard edition's
// errcodes, whose scheme the push follows.
const (
	pushOK = "0000"
	// PushCodeWrongEnterprise (1101): the push names another enterprise or client id.
	PushCodeWrongEnterprise = "1101"
	// PushCodeUndecryptable (1102) [assumed]: the body does not decrypt with the encrypt_key.
	PushCodeUndecryptable = "1102"
	// PushCodeStale: the push's timestamp is outside MaxAge.
	PushCodeStale = "stale"
)

func pushError(field, code, msg string) *Error {
	return &Error{MessageType: "push", Field: field, Code: code, Message: msg}
}

// Open authenticates a push for the enterprise taxNo and decodes it. Errors are *Error naming the
// problem: taxNo (unknown enterprise, or the push names another), encryptKey (does not decrypt),
// clientId, timestamp (Code "stale"), msgId. It does not remember the push: call Acknowledge once
// it is durably handled, so that a failed handling is retried rather than taken for a replay.
func (r *PushReceiver) Open(taxNo string, body []byte) (Push, error) {
	p, err := r.open(taxNo, body)
	if err != nil {
		return Push{}, err
	}
	return p, nil
}

func (r *PushReceiver) open(taxNo string, body []byte) (Push, *Error) {
	e, perr := r.enterprise(taxNo)
	if perr != nil {
		return Push{}, perr
	}
	plain, err := aesecb.Decrypt(e.EncryptKey, string(body))
	var env struct {
		MsgID     flex.String     `json:"msgId"`
		Timestamp flex.Int        `json:"timestamp"`
		ClientID  flex.String     `json:"client_id"`
		Tin       flex.String     `json:"tin"`
		EventType flex.String     `json:"eventType"`
		BxdKey    flex.String     `json:"bxd_key"`
		BillNo    flex.String     `json:"billNumber"`
		Resource  flex.String     `json:"resource"`
		Data      json.RawMessage `json:"data"`
	}
	if err != nil || json.Unmarshal(plain, &env) != nil {
		return Push{}, pushError("encryptKey", PushCodeUndecryptable, "the push does not decrypt to JSON with the enterprise's encrypt_key")
	}
	sent := time.UnixMilli(int64(env.Timestamp))
	switch {
	case !strings.EqualFold(string(env.Tin), e.TaxNo):
		return Push{}, pushError("taxNo", PushCodeWrongEnterprise, "the push names enterprise "+string(env.Tin))
	case string(env.ClientID) != e.ClientID:
		return Push{}, pushError("clientId", PushCodeWrongEnterprise, "the push names another client id")
	case env.MsgID == "":
		return Push{}, pushError("msgId", "", "required")
	case env.Timestamp <= 0 || r.now().Sub(sent).Abs() > r.maxAge && !r.seenBefore(string(env.MsgID), body):
		return Push{}, pushError("timestamp", PushCodeStale, "outside "+r.maxAge.String()+" of now: refused as a replay")
	}
	var payload struct {
		Data       json.RawMessage `json:"data"`
		AttachData json.RawMessage `json:"attachData"`
	}
	_ = json.Unmarshal(unquoteJSON(bytes.TrimSpace(env.Data)), &payload)
	p := Push{MsgID: string(env.MsgID), TaxNo: e.TaxNo, ClientID: e.ClientID, Sent: sent, BillID: string(env.BxdKey),
		BillNo: string(env.BillNo), Resource: string(env.Resource), Message: Message{
			InvoiceData: decodeInvoices(payload.Data), AttachData: decodeAttaches(payload.AttachData),
			MsgID: string(env.MsgID), Via: "push"}, Plain: plain}
	r.mu.Lock()
	_, p.Replayed = r.acked[p.MsgID]
	r.mu.Unlock()
	r.see(p.MsgID, body)
	return p, nil
}

// Acknowledge remembers a durably handled push, so the same msgId again is Replayed.
func (r *PushReceiver) Acknowledge(p Push) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked[p.MsgID] = p.Sent
	for id, sent := range r.acked { // beyond SeenFor a replay is refused as stale anyway
		if r.now().Sub(sent) > r.seen.keep {
			delete(r.acked, id)
		}
	}
}

// Serve handles one push for enterprise taxNo: it opens it, hands it to deliver (which must make
// it durable) unless it is a replay, acknowledges it, and answers the cloud — success only after
// deliver succeeded, so a failed delivery is pushed again. deliver refuses an authentic push for
// good by returning RefusePush's error (the bill is another enterprise's, an invoice's buyer is not
// the bill's): the answer is then 403 or 400 naming the field, never success. When deliver answers
// ErrPushForNoBill (the push can never be recorded: its bill has ended) it is answered success so
// the cloud stops.
func (r *PushReceiver) Serve(w http.ResponseWriter, req *http.Request, taxNo string, deliver func(context.Context, Push) error) {
	body, e := r.readPush(w, req, taxNo)
	if e != nil {
		writePushAnswer(w, pushStatus(e), e.Code, e.Error())
		return
	}
	p, e := r.open(taxNo, body)
	if e != nil {
		writePushAnswer(w, pushStatus(e), e.Code, e.Error())
		return
	}
	if !p.Replayed {
		if err := deliver(req.Context(), p); errors.Is(err, ErrPushForNoBill) {
			r.Acknowledge(p)
			writePushAnswer(w, http.StatusOK, pushOK, "no running bill takes this push: kept aside, do not push it again")
			return
		} else if err != nil {
			if refused := (*Error)(nil); errors.As(err, &refused) && refused.MessageType == "push" {
				writePushAnswer(w, pushStatus(refused), refused.Code, refused.Error())
				return
			}
			writePushAnswer(w, http.StatusServiceUnavailable, "5000", "not handled yet, push again")
			return
		}
		r.Acknowledge(p)
	}
	writePushAnswer(w, http.StatusOK, pushOK, "成功")
}

// RefusePush is what Serve's deliver returns to refuse an authentic push for good, naming the
// field; code PushCodeWrongEnterprise answers 403, any other 400.
func RefusePush(field, code, msg string) error { return pushError(field, code, msg) }

// pushStatus is the HTTP status of a refused push.
func pushStatus(e *Error) int {
	switch {
	case e.Field == "taxNo" && e.Code == "", e.Field == "encryptKey", e.Field == "clientId",
		e.Field == "taxNo" && e.Code == PushCodeWrongEnterprise:
		return http.StatusUnauthorized // not the enterprise's: unknown, wrong key or client id
	case e.Code == PushCodeWrongEnterprise:
		return http.StatusForbidden // the enterprise's push, about another enterprise's bill
	}
	return http.StatusBadRequest
}

// The bounds of a push body (the encrypted Base64 text). Until the enterprise's key has opened a
// push's start, at most MaxPushUnopenedBytes are read: a stranger who knows a tax number makes the receiver read that
// much, not a whole push. Once it opened, the push may be as large as MaxPushBytes.
const (
	MaxPushBytes         = 32 << 20
	MaxPushUnopenedBytes = 64 << 10
)

// enterprise is the push table's row for taxNo.
func (r *PushReceiver) enterprise(taxNo string) (PushEnterprise, *Error) {
	e, ok := r.byTaxNo[strings.ToUpper(strings.TrimSpace(taxNo))]
	if !ok {
		return PushEnterprise{}, pushError("taxNo", "", "no push is configured for enterprise "+taxNo)
	}
	return e, nil
}

// readPush reads a push's body for enterprise taxNo: nothing for an unknown enterprise, at most
// MaxPushUnopenedBytes unless the enterprise's key decrypts that start to the start of a JSON
// object (ECB decrypts block by block, so the start opens alone), then up to MaxPushBytes.
func (r *PushReceiver) readPush(w http.ResponseWriter, req *http.Request, taxNo string) ([]byte, *Error) {
	e, perr := r.enterprise(taxNo)
	if perr != nil {
		return nil, perr
	}
	body := http.MaxBytesReader(w, req.Body, MaxPushBytes)
	head, err := io.ReadAll(io.LimitReader(body, MaxPushUnopenedBytes+1))
	if err != nil {
		return nil, pushError("body", "1001", err.Error())
	}
	if len(head) <= MaxPushUnopenedBytes {
		return head, nil
	}
	if !startsJSONObject(e.EncryptKey, head) {
		return nil, pushError("encryptKey", PushCodeUndecryptable, fmt.Sprintf(
			"the push's first %d bytes do not decrypt to JSON with the enterprise's encrypt_key: the rest was not read", len(head)))
	}
	rest, err := io.ReadAll(body)
	if err != nil {
		return nil, pushError("body", "1001", fmt.Sprintf("%v (a push holds at most %d bytes)", err, MaxPushBytes))
	}
	return append(head, rest...), nil
}

// startsJSONObject reports whether the whole blocks at the start of a Base64 AES-ECB text decrypt
// with key to the start of a JSON object: a syntax error before the cut means the wrong key (a
// random block is almost never JSON text), while running out of input is the cut itself.
func startsJSONObject(key string, text []byte) bool {
	plain, err := aesecb.DecryptPrefix(key, string(text))
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for {
		if _, err := dec.Token(); err != nil {
			return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}
	}
}

func writePushAnswer(w http.ResponseWriter, status int, code, description string) {
	if code == "" {
		code = "1001"
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errcode": code, "description": Redact(description)})
}
