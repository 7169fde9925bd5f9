package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/internal/access"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// The ERP's own webhooks (docs/webhooks.md): each client registers, tests, lists and removes its
// webhook per resource, and has the resource's journaled events sent again from a sequence
// number. A client sees and changes only its own registrations (the registry keys them by the
// client's name); the events of a resource are the same for every client of it.

const webhookPath = "/v1/webhooks/{resource}"

// WebhookRequest registers (or replaces) the calling client's webhook for the path's resource.
type WebhookRequest struct {
	// URLs get every event (POST, signed): https, or http on loopback only.
	URLs []string `json:"urls"`
	// Secret is a reference only: env:RIMFLOW_WEBHOOK_SECRET_<NAME> or file:<path in
	// RIMFLOW_WEBHOOK_SECRETS_DIR>, set alike for the API and the worker. Never the secret.
	Secret string `json:"secret"`
}

// WebhookView is one registered webhook.
type WebhookView struct {
	Resource  string    `json:"resource"`
	URLs      []string  `json:"urls"`
	Secret    string    `json:"secret"` // the reference, as registered
	UpdatedAt time.Time `json:"updatedAt"`
	// Created: this call registered it (false: it replaced the one before).
	Created bool `json:"created,omitempty"`
}

// WebhookList is the calling client's webhooks.
type WebhookList struct {
	Webhooks []WebhookView `json:"webhooks"`
}

// WebhookRemoved answers a removal.
type WebhookRemoved struct {
	Resource string `json:"resource"`
	Removed  bool   `json:"removed"`
}

// WebhookAttempt is what one URL answered: its status (0: no answer), how long it took, and why
// it failed; the URL without its query. Neither body is kept or logged.
type WebhookAttempt struct {
	URL       string `json:"url"`
	Status    int    `json:"status"`
	LatencyMs int64  `json:"latencyMs"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// WebhookTestResponse answers a test: the test event's id and what each URL answered.
type WebhookTestResponse struct {
	EventID  string           `json:"eventId"`
	OK       bool             `json:"ok"` // every URL answered 2xx
	Attempts []WebhookAttempt `json:"attempts"`
}

// WebhookTestEvent is the body of a test delivery (type webhook.test; never journaled).
type WebhookTestEvent struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	At       time.Time `json:"at"`
	Resource string    `json:"resource"`
}

// EventWebhookTest is the test event's type.
const EventWebhookTest = "webhook.test"

// ReplayRequest asks for the resource's journaled events from fromSeq, at most limit (1–100,
// default 100), sent again to the caller's webhook.
type ReplayRequest struct {
	FromSeq int64 `json:"fromSeq"`
	Limit   int   `json:"limit,omitempty"`
}

// ReplayResponse is what a replay sent. It stops at the first refusal, so the events arrive in
// sequence order: nextSeq is where to go on from; more: the journal holds events from nextSeq on.
type ReplayResponse struct {
	FromSeq  int64           `json:"fromSeq"`
	Sent     int             `json:"sent"`
	EventIDs []string        `json:"eventIds"`
	NextSeq  int64           `json:"nextSeq"`
	More     bool            `json:"more"`
	LastSeq  int64           `json:"lastSeq"`          // the resource's last sequence now
	Failed   *WebhookAttempt `json:"failed,omitempty"` // the refusal it stopped at
}

// WebhookEvent is one journaled event: the body delivered (event with its sequence).
type WebhookEvent struct {
	Sequence    int64           `json:"sequence"`
	ID          string          `json:"id"`
	JournaledAt time.Time       `json:"journaledAt"`
	Event       json.RawMessage `json:"event"`
}

// WebhookEventsResponse is a page of a resource's journal.
type WebhookEventsResponse struct {
	Events   []WebhookEvent `json:"events"`
	FirstSeq int64          `json:"firstSeq"` // the oldest kept (0: none)
	LastSeq  int64          `json:"lastSeq"`  // the last given (0: none yet)
	NextSeq  int64          `json:"nextSeq"`  // fromSeq of the next page
	More     bool           `json:"more"`
}

func webhookRoutes() []route {
	notFound := response{http.StatusNotFound, "the client has no webhook for this resource (businessCode RF1202)", ErrorBody{}, ""}
	return []route{
		{
			Method: "GET", Path: "/v1/webhooks", Operation: "listWebhooks",
			Summary:   "The calling client's webhooks, every resource",
			Responses: []response{{http.StatusOK, "the client's webhooks", WebhookList{}, ""}},
			serve:     (*server).listWebhooks, Op: access.OpWebhooks,
		},
		{
			Method: "PUT", Path: webhookPath, Operation: "putWebhook",
			Summary: "Register (or replace) the calling client's webhook for a resource",
			Description: "The secret is a reference only (env:" + webhooks.EnvSecretPrefix + "NAME, or file:PATH in RIMFLOW_WEBHOOK_SECRETS_DIR), " +
				"readable by the API and the worker; an inline secret is refused naming the field. New bills of the resource send their events " +
				"to it, each with the resource's sequence number (docs/webhooks.md).",
			Body: WebhookRequest{}, Example: map[string]any{"urls": []string{"https://erp.example.com/rimflow/events"}, "secret": "env:" + webhooks.EnvSecretPrefix + "OA"},
			Responses: []response{
				{http.StatusCreated, "registered", WebhookView{}, ""},
				{http.StatusOK, "replaced", WebhookView{}, ""},
			},
			serve: (*server).putWebhook, Op: access.OpWebhooks,
		},
		{
			Method: "GET", Path: webhookPath, Operation: "getWebhook",
			Summary:   "The calling client's webhook for a resource",
			Responses: []response{{http.StatusOK, "the webhook", WebhookView{}, ""}, notFound},
			serve:     (*server).getWebhook, Op: access.OpWebhooks,
		},
		{
			Method: "DELETE", Path: webhookPath, Operation: "deleteWebhook",
			Summary:   "Remove the calling client's webhook for a resource (the resource's journal stays)",
			Responses: []response{{http.StatusOK, "removed", WebhookRemoved{}, ""}, notFound},
			serve:     (*server).deleteWebhook, Op: access.OpWebhooks,
		},
		{
			Method: "POST", Path: webhookPath + "/test", Operation: "testWebhook",
			Summary: "Send a signed test event (type webhook.test) to the client's webhook now, and answer what each URL answered",
			Body:    struct{}{}, BodyOpt: true, Example: map[string]any{},
			Responses: []response{{http.StatusOK, "sent: each URL's status and latency (ok: all answered 2xx)", WebhookTestResponse{}, ""}, notFound},
			serve:     (*server).testWebhook, Op: access.OpWebhooks,
		},
		{
			Method: "POST", Path: webhookPath + "/replay", Operation: "replayWebhookEvents",
			Summary: "Send the resource's journaled events again from a sequence number, in order, to the client's webhook",
			Description: "Each event goes out as first delivered: same id, same body with its sequence, signed anew. At most limit (1–100) " +
				"per call; go on from nextSeq while more is true. A sequence the journal no longer keeps answers 409 journal_pruned " +
				"(fields.fromSeq names the oldest kept).",
			Body: ReplayRequest{}, Example: map[string]any{"fromSeq": 1, "limit": 100},
			Responses: []response{{http.StatusOK, "what was sent; failed names the refusal it stopped at", ReplayResponse{}, ""}, notFound},
			serve:     (*server).replayWebhook, Op: access.OpWebhooks,
		},
		{
			Method: "GET", Path: webhookPath + "/events", Operation: "listWebhookEvents",
			Summary: "Read the resource's journaled events from a sequence number (what a replay would send)",
			Query: []param{
				{Name: "fromSeq", Description: "the first sequence (default 1)", Type: "integer", Min: bound(1), Example: "1"},
				{Name: "pageSize", Description: "1 to 100, default 100", Type: "integer", Min: bound(1), Max: bound(webhooks.MaxPage)},
			},
			Responses: []response{{http.StatusOK, "a page of the journal", WebhookEventsResponse{}, ""}},
			serve:     (*server).webhookEvents, Op: access.OpWebhooks,
		},
	}
}

func view(r webhooks.Registration) WebhookView {
	return WebhookView{Resource: r.Resource, URLs: r.URLs, Secret: r.Secret, UpdatedAt: r.UpdatedAt}
}

func noWebhook(resource string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, SubCode: SubNoWebhook,
		Message: fmt.Sprintf("this client has no webhook for resource %q: register one with PUT /v1/webhooks/{resource}", resource)}
}

func (s *server) listWebhooks(r *http.Request) (int, any, error) {
	regs, err := s.hooks.List(r.Context(), clientName(callerFrom(r.Context()).client))
	if err != nil {
		return 0, nil, err
	}
	out := WebhookList{Webhooks: []WebhookView{}}
	for _, reg := range regs {
		out.Webhooks = append(out.Webhooks, view(reg))
	}
	return http.StatusOK, out, nil
}

func (s *server) putWebhook(r *http.Request) (int, any, error) {
	var req WebhookRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	reg := webhooks.Registration{Client: clientName(callerFrom(r.Context()).client), Resource: r.PathValue("resource"),
		URLs: req.URLs, Secret: strings.TrimSpace(req.Secret)}
	bad := webhooks.CheckRegistration(reg)
	delete(bad, "client")
	if bad["secret"] == "" {
		if why := s.hooks.CheckSecret(reg.Secret); why != "" {
			bad["secret"] = why
		}
	}
	if len(bad) > 0 {
		return 0, nil, ValidationFailed(bad)
	}
	res, err := s.hooks.Register(r.Context(), reg, updateID(r.Context()))
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == workflows.ErrTypeWebhookInvalid {
			var fields map[string]string
			if app.Details(&fields) == nil && len(fields) > 0 {
				return 0, nil, ValidationFailed(fields)
			}
		}
		return 0, nil, err
	}
	out := view(res.Registration)
	out.Created = res.Created
	if res.Created {
		return http.StatusCreated, out, nil
	}
	return http.StatusOK, out, nil
}

// own is the caller's registration for the path's resource, or 404.
func (s *server) own(r *http.Request) (webhooks.Registration, error) {
	resource := r.PathValue("resource")
	reg, ok, err := s.hooks.Get(r.Context(), clientName(callerFrom(r.Context()).client), resource)
	if err != nil {
		return reg, err
	}
	if !ok {
		return reg, noWebhook(resource)
	}
	return reg, nil
}

func (s *server) getWebhook(r *http.Request) (int, any, error) {
	reg, err := s.own(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, view(reg), nil
}

func (s *server) deleteWebhook(r *http.Request) (int, any, error) {
	resource := r.PathValue("resource")
	removed, err := s.hooks.Remove(r.Context(), clientName(callerFrom(r.Context()).client), resource, updateID(r.Context()))
	if err != nil {
		return 0, nil, err
	}
	if !removed {
		return 0, nil, noWebhook(resource)
	}
	return http.StatusOK, WebhookRemoved{Resource: resource, Removed: true}, nil
}

func attemptsOf(in []webhooks.Attempt) []WebhookAttempt {
	out := make([]WebhookAttempt, len(in))
	for i, a := range in {
		out[i] = WebhookAttempt(a)
	}
	return out
}

// unreadableSecret: the registration's secret cannot be read here any more (the variable or
// file went away): a 409 naming the field, never the value.
func unreadableSecret(err error) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, SubCode: SubRefused,
		Message: "the webhook's secret cannot be read by the API: " + err.Error(), Fields: map[string]string{"secret": err.Error()}}
}

func (s *server) testWebhook(r *http.Request) (int, any, error) {
	if e := decodeBody(r, &struct{}{}, false); e != nil {
		return 0, nil, e
	}
	reg, err := s.own(r)
	if err != nil {
		return 0, nil, err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	ev := WebhookTestEvent{ID: "test-" + hex.EncodeToString(id[:]), Type: EventWebhookTest, At: time.Now().UTC().Truncate(TimePrecision), Resource: reg.Resource}
	body, _ := json.Marshal(ev)
	attempts, err := s.hooks.Send(r.Context(), reg, ev.ID, 0, body)
	if err != nil {
		return 0, nil, unreadableSecret(err)
	}
	out := WebhookTestResponse{EventID: ev.ID, OK: true, Attempts: attemptsOf(attempts)}
	for _, a := range attempts {
		out.OK = out.OK && a.OK
	}
	return http.StatusOK, out, nil
}

func (s *server) replayWebhook(r *http.Request) (int, any, error) {
	var req ReplayRequest
	if e := decodeBody(r, &req, true); e != nil {
		return 0, nil, e
	}
	bad := map[string]string{}
	if req.FromSeq < 1 {
		bad["fromSeq"] = "required: a sequence number from 1"
	}
	if req.Limit < 0 || req.Limit > webhooks.MaxPage {
		bad["limit"] = fmt.Sprintf("from 1 to %d (default %d)", webhooks.MaxPage, webhooks.MaxPage)
	}
	if len(bad) > 0 {
		return 0, nil, ValidationFailed(bad)
	}
	reg, err := s.own(r)
	if err != nil {
		return 0, nil, err
	}
	res, err := s.hooks.Replay(r.Context(), reg, req.FromSeq, req.Limit)
	var gone *webhooks.ErrReplayGone
	switch {
	case errors.As(err, &gone):
		return 0, nil, &Error{Status: http.StatusConflict, Code: CodeConflict, SubCode: SubJournalPruned, Message: gone.Error(),
			Fields: map[string]string{"fromSeq": "the journal keeps events from sequence " + strconv.FormatInt(gone.First, 10) + " on"}}
	case err != nil && strings.HasPrefix(err.Error(), "secret: "):
		return 0, nil, unreadableSecret(err)
	case err != nil:
		return 0, nil, err
	}
	out := ReplayResponse{FromSeq: res.From, Sent: res.Sent, EventIDs: res.IDs, NextSeq: res.Next, More: res.More, LastSeq: res.Last}
	if res.Failed != nil {
		f := WebhookAttempt(*res.Failed)
		out.Failed = &f
	}
	return http.StatusOK, out, nil
}

func (s *server) webhookEvents(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	bad := map[string]string{}
	from, size := int64(1), webhooks.MaxPage
	if v := q.Get("fromSeq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad["fromSeq"] = "a whole number from 1"
		}
		from = n
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > webhooks.MaxPage {
			bad["pageSize"] = fmt.Sprintf("a whole number from 1 to %d", webhooks.MaxPage)
		}
		size = n
	}
	if len(bad) > 0 {
		return 0, nil, ValidationFailed(bad)
	}
	page, err := s.hooks.Events(r.Context(), webhooks.EventsQuery{Resource: r.PathValue("resource"), From: from, Limit: size})
	if err != nil {
		return 0, nil, err
	}
	out := WebhookEventsResponse{Events: []WebhookEvent{}, FirstSeq: page.First, LastSeq: page.Last, NextSeq: from}
	if page.First > from {
		out.NextSeq = page.First // what was older is gone: the page starts at the oldest kept
	}
	for _, ev := range page.Events {
		out.Events = append(out.Events, WebhookEvent{Sequence: ev.Seq, ID: ev.ID, JournaledAt: ev.At,
			Event: webhooks.WithSequence(ev.Event, ev.Seq)})
		out.NextSeq = ev.Seq + 1
	}
	out.More = out.NextSeq <= page.Last
	return http.StatusOK, out, nil
}
