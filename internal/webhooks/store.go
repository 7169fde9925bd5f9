package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"rimflow/internal/query"
	"rimflow/internal/secretref"
)

// HeaderSequence repeats a journaled event's resource sequence (the body's "sequence" is the signed one).
const HeaderSequence = "X-Rimflow-Sequence"

// DefaultCacheTTL is how long the registrations read from the registry are used before they are
// read again: a new or removed webhook takes effect in the worker within it.
const DefaultCacheTTL = 5 * time.Second

// Store reaches the registry workflow for the API (register, remove, list, test, replay) and the
// worker (which webhooks an event goes to, and its journal). Zero Keep/Max/CacheTTL: defaults.
type Store struct {
	Client    client.Client
	TaskQueue string // where the registry workflow runs (the API starts it)
	Settings
	CacheTTL time.Duration
	Getenv   func(string) string          // nil: os.Getenv
	ReadFile func(string) ([]byte, error) // nil: os.ReadFile
	HTTP     *http.Client                 // nil: 15 s, no redirects

	mu     sync.Mutex
	cached []Registration
	at     time.Time
}

// Settings are the configuration's part of a Store.
type Settings struct {
	// SecretsDir is RIMFLOW_WEBHOOK_SECRETS_DIR: file: references must name a file in it ("" none).
	SecretsDir string
	Keep       time.Duration // RIMFLOW_WEBHOOK_JOURNAL_KEEP
	Max        int           // RIMFLOW_WEBHOOK_JOURNAL_MAX
}

// errNoRegistry: the registry workflow is not running (no webhook was ever registered).
var errNoRegistry = errors.New("no webhook registry")

func (s *Store) httpClient() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 15 * time.Second,
		// A redirect would re-POST the event elsewhere: refuse it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Registrations are every client's registrations, from the cache when fresh.
func (s *Store) Registrations(ctx context.Context) ([]Registration, error) {
	if s == nil || s.Client == nil {
		return nil, nil
	}
	ttl := s.CacheTTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	s.mu.Lock()
	if !s.at.IsZero() && time.Since(s.at) < ttl {
		regs := s.cached
		s.mu.Unlock()
		return regs, nil
	}
	s.mu.Unlock()
	var regs []Registration
	err := s.query(ctx, QueryRegistrations, &regs)
	if errors.Is(err, errNoRegistry) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	s.remember(regs)
	return regs, nil
}

func (s *Store) remember(regs []Registration) {
	s.mu.Lock()
	s.cached, s.at = regs, time.Now()
	s.mu.Unlock()
}

func (s *Store) forget() {
	s.mu.Lock()
	s.at = time.Time{}
	s.mu.Unlock()
}

// Has reports whether any client registered a webhook for resource (a bill started for it
// notifies). Temporal unreachable: false, as a start would fail anyway.
func (s *Store) Has(resource string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	regs, err := s.Registrations(ctx)
	return err == nil && len(For(regs, resource)) > 0
}

// Get is a client's registration for resource (false: none).
func (s *Store) Get(ctx context.Context, clientName, resource string) (Registration, bool, error) {
	s.forget() // the client reads what it wrote, even from another API replica
	regs, err := s.Registrations(ctx)
	if err != nil {
		return Registration{}, false, err
	}
	for _, r := range regs {
		if r.Client == clientName && r.Resource == resource {
			return r, true, nil
		}
	}
	return Registration{}, false, nil
}

// List is a client's registrations.
func (s *Store) List(ctx context.Context, clientName string) ([]Registration, error) {
	s.forget()
	regs, err := s.Registrations(ctx)
	if err != nil {
		return nil, err
	}
	out := []Registration{}
	for _, r := range regs {
		if r.Client == clientName {
			out = append(out, r)
		}
	}
	return out, nil
}

// CheckSecret tells why ref cannot sign here ("" when it can): the API refuses a registration
// whose secret it cannot read, naming the variable or file, never the value.
func (s *Store) CheckSecret(ref string) string {
	if err := CheckSecretPlace(ref, s.SecretsDir); err != nil {
		return err.Error()
	}
	if _, err := s.secret(ref); err != nil {
		return err.Error()
	}
	return ""
}

func (s *Store) secret(ref string) ([]byte, error) {
	if err := checkSecretShape(ref); err != nil {
		return nil, err
	}
	if err := CheckSecretPlace(ref, s.SecretsDir); err != nil {
		return nil, err
	}
	getenv, readFile := s.Getenv, s.ReadFile
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	b, err := secretref.Resolve(ref, getenv, readFile)
	if err != nil {
		return nil, err
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("the secret must be at least %d bytes", MinSecretLen)
	}
	return b, nil
}

// Register stores a client's webhook (new or replacing), starting the registry when none runs.
// The workflow's validator checks it again: nothing half-written is stored.
func (s *Store) Register(ctx context.Context, r Registration, updateID string) (RegisterResult, error) {
	defer s.forget()
	start := s.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       RegistryWorkflowID,
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            "the ERP's webhooks registered through the API, and their journals",
	}, RegistryWorkflowName, RegistryState{})
	h, err := s.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: updateID, UpdateName: UpdateRegister,
			Args: []any{r}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var res RegisterResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	return res, err
}

// Remove drops a client's webhook; false: it had none.
func (s *Store) Remove(ctx context.Context, clientName, resource, updateID string) (bool, error) {
	defer s.forget()
	var removed bool
	err := s.update(ctx, UpdateRemove, updateID, RemoveRequest{Client: clientName, Resource: resource}, &removed)
	if errors.Is(err, errNoRegistry) {
		return false, nil
	}
	return removed, err
}

// Journal gives an event its resource sequence (the same on every retry of its delivery).
func (s *Store) Journal(ctx context.Context, resource, id string, event []byte) (int64, error) {
	var seq int64
	err := s.update(ctx, UpdateJournal, "journal/"+resource+"/"+id,
		JournalRequest{Resource: resource, ID: id, Event: event, Keep: s.Keep, Max: s.Max}, &seq)
	return seq, err
}

// Events reads a page of a resource's journal.
func (s *Store) Events(ctx context.Context, q EventsQuery) (EventsPage, error) {
	var page EventsPage
	err := s.query(ctx, QueryEvents, &page, q)
	if errors.Is(err, errNoRegistry) {
		return EventsPage{Events: []Journaled{}}, nil
	}
	return page, err
}

func (s *Store) update(ctx context.Context, name, id string, arg, out any) error {
	h, err := s.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: RegistryWorkflowID,
		UpdateID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, out)
	}
	return notFound(err)
}

func (s *Store) query(ctx context.Context, name string, out any, args ...any) error {
	v, err := query.Workflow(ctx, s.Client, RegistryWorkflowID, name, args...)
	if err == nil {
		err = v.Get(out)
	}
	return notFound(err)
}

func notFound(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return errNoRegistry
	}
	return err
}

// Attempt is what one URL answered to one POST: its status (0: no answer) and how long it took.
// The URL is shown without its query (it may carry a token); neither body is kept.
type Attempt struct {
	URL       string `json:"url"`
	Status    int    `json:"status"`
	LatencyMs int64  `json:"latencyMs"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// Send POSTs body, signed with the registration's secret, to each of its URLs, and answers what
// each answered. seq 0: not journaled (a test event), no sequence header.
func (s *Store) Send(ctx context.Context, r Registration, id string, seq int64, body []byte) ([]Attempt, error) {
	secret, err := s.secret(r.Secret)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	out := make([]Attempt, 0, len(r.URLs))
	for _, u := range r.URLs {
		out = append(out, s.post(ctx, u, secret, id, seq, body))
	}
	return out, nil
}

func (s *Store) post(ctx context.Context, u string, secret []byte, id string, seq int64, body []byte) Attempt {
	a := Attempt{URL: redact(u)}
	now := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad URL"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, now, body))
	if seq > 0 {
		req.Header.Set(HeaderSequence, strconv.FormatInt(seq, 10))
	}
	resp, err := s.httpClient().Do(req)
	a.LatencyMs = time.Since(now).Milliseconds()
	if err != nil {
		a.Error = unwrapURL(err).Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.Status = resp.StatusCode
	a.OK = resp.StatusCode/100 == 2
	if !a.OK {
		a.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return a
}

// Deliver sends a bill's event to every webhook registered for its resource: journaled first (its
// sequence), then signed with each registration's secret. Any URL not answering 2xx fails it, to be
// retried (all again, same id and sequence: receivers drop repeats). No registration: nothing.
func (s *Store) Deliver(ctx context.Context, resource, id string, event []byte) (bool, error) {
	regs, err := s.Registrations(ctx)
	if err != nil {
		return false, fmt.Errorf("webhook registry: %w", err)
	}
	regs = For(regs, resource)
	if len(regs) == 0 {
		return false, nil
	}
	seq, err := s.Journal(ctx, resource, id, event)
	if err != nil {
		return true, fmt.Errorf("webhook journal: %w", err)
	}
	body := WithSequence(event, seq)
	var errs []error
	for _, r := range regs {
		attempts, err := s.Send(ctx, r, id, seq, body)
		if err != nil {
			errs = append(errs, fmt.Errorf("client %s: %w", r.Client, err))
			continue
		}
		for _, a := range attempts {
			if !a.OK {
				errs = append(errs, fmt.Errorf("%s: %s", a.URL, a.Error))
			}
		}
	}
	return true, errors.Join(errs...)
}

// ReplayResult is what a replay sent: Sent counts the events every URL took; Next is the sequence
// to replay from next; More: the journal holds events from Next on. Failed is the first refusal
// (the replay stops there, so the ERP gets the events in order).
type ReplayResult struct {
	From   int64    `json:"from"`
	Sent   int      `json:"sent"`
	Next   int64    `json:"next"`
	More   bool     `json:"more"`
	Last   int64    `json:"last"`
	Failed *Attempt `json:"failed,omitempty"`
	IDs    []string `json:"eventIds"`
}

// ErrReplayGone: the journal no longer holds the asked sequence (older than it keeps).
type ErrReplayGone struct{ First int64 }

func (e *ErrReplayGone) Error() string {
	return fmt.Sprintf("the journal keeps this resource's events from sequence %d on", e.First)
}

// Replay sends r's resource's journaled events from sequence from (at most limit) to r's URLs,
// each signed as delivered first (same id, same body with its sequence).
func (s *Store) Replay(ctx context.Context, r Registration, from int64, limit int) (ReplayResult, error) {
	page, err := s.Events(ctx, EventsQuery{Resource: r.Resource, From: from, Limit: limit})
	if err != nil {
		return ReplayResult{}, err
	}
	if page.First > 0 && from < page.First && from <= page.Last {
		return ReplayResult{}, &ErrReplayGone{First: page.First}
	}
	res := ReplayResult{From: from, Next: from, Last: page.Last, IDs: []string{}}
	for _, ev := range page.Events {
		attempts, err := s.Send(ctx, r, ev.ID, ev.Seq, WithSequence(ev.Event, ev.Seq))
		if err != nil {
			return ReplayResult{}, err
		}
		for _, a := range attempts {
			if !a.OK {
				res.Failed = &a
				break
			}
		}
		if res.Failed != nil {
			break
		}
		res.Sent++
		res.IDs = append(res.IDs, ev.ID)
		res.Next = ev.Seq + 1
	}
	res.More = res.Next <= page.Last
	return res, nil
}
