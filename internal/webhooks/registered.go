package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Webhooks an ERP client registers through the API (docs/webhooks.md), beside the file's: each
// client registers its own per resource, with its secret by reference only, and every event of a
// resource that has one is journaled with a sequence number of that resource, so a client can
// have the events from a sequence number sent again after an outage.
//
// Where they live: one long-lived workflow per namespace (RegistryWorkflowName, ID
// RegistryWorkflowID) holds the registrations and the journals, so they survive restarts of the
// API and the worker without another store; its state (RegistryState) is carried across
// continue-as-new. Its rules are here, as plain functions, so the workflow stays a thin shell.

// The registry workflow's names (see workflows.WebhookRegistryWorkflow).
const (
	RegistryWorkflowName = "WebhookRegistry"
	RegistryWorkflowID   = "rimflow-webhooks"
	UpdateRegister       = "webhookRegister"
	UpdateRemove         = "webhookRemove"
	UpdateJournal        = "webhookJournal"
	QueryRegistrations   = "webhookRegistrations"
	QueryEvents          = "webhookEvents"
)

// Limits and defaults of registered webhooks.
const (
	// MaxURLs bounds one registration's URLs (each event is POSTed to every one).
	MaxURLs = 5
	// MaxURLLen bounds one URL.
	MaxURLLen = 2048
	// EnvSecretPrefix: a registration's env: reference names a variable with this prefix only, so
	// a client cannot have events signed with another of the server's variables (a token, a key).
	EnvSecretPrefix = "RIMFLOW_WEBHOOK_SECRET_"
	// MinSecretLen is the shortest secret (as for the file's).
	MinSecretLen = 16
	// DefaultJournalKeep and DefaultJournalMax bound each resource's journal [assumed]: events
	// older than Keep, and the oldest beyond Max, are dropped (RIMFLOW_WEBHOOK_JOURNAL_KEEP,
	// RIMFLOW_WEBHOOK_JOURNAL_MAX). Max also bounds the state carried across continue-as-new.
	DefaultJournalKeep = 7 * 24 * time.Hour
	DefaultJournalMax  = 1000
	// MaxJournalMax caps RIMFLOW_WEBHOOK_JOURNAL_MAX: Temporal refuses a payload over 2 MB.
	MaxJournalMax = 2000
	// MaxJournalBytes bounds the events all journals keep together: the registry's state travels
	// in one Temporal payload across continue-as-new (2 MB at most, encrypted and encoded).
	MaxJournalBytes = 1 << 20
	// MaxPage bounds one replay or one page of the journal.
	MaxPage = 100
)

// Registration is one client's webhook for one resource. Secret is the reference
// (env:RIMFLOW_WEBHOOK_SECRET_… or file:PATH), never the secret.
type Registration struct {
	Client    string    `json:"client"`
	Resource  string    `json:"resource"`
	URLs      []string  `json:"urls"`
	Secret    string    `json:"secret"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Journaled is one event in a resource's journal: its sequence (per resource, from 1, without
// gaps), its event id, when it was journaled and the event (JSON, without the sequence).
type Journaled struct {
	Seq   int64           `json:"seq"`
	ID    string          `json:"id"`
	At    time.Time       `json:"at"`
	Event json.RawMessage `json:"event"`
}

// Journal is one resource's kept events, oldest first; Last is the last sequence given.
type Journal struct {
	Last   int64       `json:"last"`
	Events []Journaled `json:"events,omitempty"`
}

// RegistryState is the registry workflow's whole state (its input across continue-as-new).
type RegistryState struct {
	Registrations []Registration      `json:"registrations,omitempty"` // by client, then resource
	Journals      map[string]*Journal `json:"journals,omitempty"`      // by resource
}

// RemoveRequest removes a client's webhook for a resource.
type RemoveRequest struct {
	Client   string `json:"client"`
	Resource string `json:"resource"`
}

// RegisterResult answers a registration: as stored, and whether it is new.
type RegisterResult struct {
	Registration Registration `json:"registration"`
	Created      bool         `json:"created"`
}

// JournalRequest journals one event (the worker, before it delivers it). Keep and Max are the
// worker's retention (zero: the defaults).
type JournalRequest struct {
	Resource string          `json:"resource"`
	ID       string          `json:"id"`
	Event    json.RawMessage `json:"event"`
	Keep     time.Duration   `json:"keep,omitempty"`
	Max      int             `json:"max,omitempty"`
}

// EventsQuery asks for a resource's journaled events from sequence From, at most Limit.
type EventsQuery struct {
	Resource string `json:"resource"`
	From     int64  `json:"from"`
	Limit    int    `json:"limit"`
}

// EventsPage is a page of a journal: First is the oldest sequence kept (0: none), Last the last
// given (0: none yet).
type EventsPage struct {
	Events []Journaled `json:"events"`
	First  int64       `json:"first"`
	Last   int64       `json:"last"`
}

var envName = regexp.MustCompile(`^[A-Z0-9_]+$`)

// CheckRegistration checks a registration's fields, naming each bad one (urls[1], secret). It
// reads nothing (the registry workflow's validator runs it too); the API also resolves the secret.
func CheckRegistration(r Registration) map[string]string {
	bad := map[string]string{}
	if strings.TrimSpace(r.Client) == "" {
		bad["client"] = "required"
	}
	if strings.TrimSpace(r.Resource) == "" {
		bad["resource"] = "required"
	}
	switch {
	case len(r.URLs) == 0:
		bad["urls"] = "at least one URL"
	case len(r.URLs) > MaxURLs:
		bad["urls"] = fmt.Sprintf("at most %d URLs", MaxURLs)
	}
	for i, raw := range r.URLs {
		where := fmt.Sprintf("urls[%d]", i)
		if len(raw) > MaxURLLen {
			bad[where] = fmt.Sprintf("at most %d characters", MaxURLLen)
		} else if err := CheckURL(raw); err != nil {
			bad[where] = err.Error()
		} else if u, _ := url.Parse(raw); u.User != nil {
			// A password in the URL would be a secret given inline, shown by every list.
			bad[where] = "no user or password in the URL: the secret is given by reference only"
		} else if slices.Index(r.URLs, raw) < i {
			bad[where] = "repeats an earlier URL"
		}
	}
	if err := checkSecretShape(r.Secret); err != nil {
		bad["secret"] = err.Error()
	}
	return bad
}

// checkSecretShape: env:RIMFLOW_WEBHOOK_SECRET_NAME or file:/absolute/path, nothing inline.
func checkSecretShape(ref string) error {
	switch {
	case ref == "":
		return errors.New("required: env:" + EnvSecretPrefix + "NAME or file:PATH")
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		if !strings.HasPrefix(name, EnvSecretPrefix) || len(name) == len(EnvSecretPrefix) || !envName.MatchString(name) {
			return fmt.Errorf("env: names a variable %sNAME (capitals, digits, _)", EnvSecretPrefix)
		}
	case strings.HasPrefix(ref, "file:"):
		p := strings.TrimPrefix(ref, "file:")
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return errors.New("file: names an absolute, clean path")
		}
	default:
		return errors.New("a secret is given by reference only: env:NAME or file:PATH, never inline")
	}
	return nil
}

// CheckSecretPlace refuses a file: reference outside dir (RIMFLOW_WEBHOOK_SECRETS_DIR; "" = no
// file: references): a client must not have events signed with any file the server can read.
func CheckSecretPlace(ref, dir string) error {
	p, ok := strings.CutPrefix(ref, "file:")
	if !ok {
		return nil
	}
	if dir == "" {
		return errors.New("file: references are off on this server (RIMFLOW_WEBHOOK_SECRETS_DIR is not set): use env:" + EnvSecretPrefix + "NAME")
	}
	if rel, err := filepath.Rel(filepath.Clean(dir), p); err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("file: names a file in %s (RIMFLOW_WEBHOOK_SECRETS_DIR)", filepath.Clean(dir))
	}
	return nil
}

// Upsert stores r (registered or replaced) at now.
func (st *RegistryState) Upsert(r Registration, now time.Time) RegisterResult {
	r.UpdatedAt = now.UTC()
	r.URLs = slices.Clone(r.URLs)
	i, found := st.find(r.Client, r.Resource)
	if found {
		st.Registrations[i] = r
	} else {
		st.Registrations = slices.Insert(st.Registrations, i, r)
	}
	return RegisterResult{Registration: r, Created: !found}
}

// Remove drops a client's webhook for a resource; false: there was none. Its journal stays (a
// registration again can replay it).
func (st *RegistryState) Remove(client, resource string) bool {
	i, found := st.find(client, resource)
	if found {
		st.Registrations = slices.Delete(st.Registrations, i, i+1)
	}
	return found
}

func (st *RegistryState) find(client, resource string) (int, bool) {
	return slices.BinarySearchFunc(st.Registrations, [2]string{client, resource}, func(r Registration, k [2]string) int {
		if c := strings.Compare(r.Client, k[0]); c != 0 {
			return c
		}
		return strings.Compare(r.Resource, k[1])
	})
}

// For lists the registrations of a resource (every client's).
func For(regs []Registration, resource string) []Registration {
	var out []Registration
	for _, r := range regs {
		if r.Resource == resource {
			out = append(out, r)
		}
	}
	return out
}

// Append journals an event at now and answers its sequence. An event journaled already (a retried
// delivery) keeps its sequence. The journal then drops what is older than Keep or beyond Max.
func (st *RegistryState) Append(req JournalRequest, now time.Time) int64 {
	if st.Journals == nil {
		st.Journals = map[string]*Journal{}
	}
	j := st.Journals[req.Resource]
	if j == nil {
		j = &Journal{}
		st.Journals[req.Resource] = j
	}
	for i := len(j.Events) - 1; i >= 0; i-- {
		if j.Events[i].ID == req.ID {
			return j.Events[i].Seq
		}
	}
	j.Last++
	j.Events = append(j.Events, Journaled{Seq: j.Last, ID: req.ID, At: now.UTC(), Event: req.Event})
	keep, limit := req.Keep, req.Max
	if keep <= 0 {
		keep = DefaultJournalKeep
	}
	if limit <= 0 {
		limit = DefaultJournalMax
	}
	j.prune(now.Add(-keep), min(limit, MaxJournalMax))
	st.trim(MaxJournalBytes)
	return j.Last
}

// trim drops the oldest events of all journals until they hold at most budget bytes.
func (st *RegistryState) trim(budget int) {
	names := slices.Sorted(maps.Keys(st.Journals)) //workflowcheck:ignore sorted: the order is the keys', not the map's
	total := 0
	for _, name := range names {
		for _, e := range st.Journals[name].Events {
			total += len(e.Event)
		}
	}
	for total > budget {
		var oldest *Journal
		for _, name := range names {
			if j := st.Journals[name]; len(j.Events) > 0 && (oldest == nil || j.Events[0].At.Before(oldest.Events[0].At)) {
				oldest = j
			}
		}
		if oldest == nil {
			return
		}
		total -= len(oldest.Events[0].Event)
		oldest.Events = slices.Delete(oldest.Events, 0, 1)
	}
}

func (j *Journal) prune(before time.Time, limit int) {
	drop := 0
	for drop < len(j.Events) && (j.Events[drop].At.Before(before) || len(j.Events)-drop > limit) {
		drop++
	}
	j.Events = slices.Delete(j.Events, 0, drop)
}

// Page answers a page of a resource's journal from q.From (at most q.Limit, 1 to MaxPage).
func (st *RegistryState) Page(q EventsQuery) EventsPage {
	page := EventsPage{Events: []Journaled{}}
	j := st.Journals[q.Resource]
	if j == nil {
		return page
	}
	page.Last = j.Last
	if len(j.Events) > 0 {
		page.First = j.Events[0].Seq
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	// Sequences are consecutive in a journal: the page starts at an offset.
	start := 0
	if page.First > 0 && q.From > page.First {
		start = int(min(q.From-page.First, int64(len(j.Events))))
	}
	end := min(start+limit, len(j.Events))
	page.Events = append(page.Events, j.Events[start:end]...)
	return page
}

// WithSequence is the body delivered for a journaled event: the event's JSON object with its
// resource sequence first. Delivery and replay build it alike, so a replay sends the same bytes.
func WithSequence(event []byte, seq int64) []byte {
	if len(event) < 2 || event[0] != '{' {
		return event
	}
	out := fmt.Appendf(nil, `{"sequence":%d`, seq)
	if rest := event[1:]; len(rest) > 1 { // not "{}"
		out = append(out, ',')
	}
	return append(out, event[1:]...)
}
