package webhooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRegistrationRules(t *testing.T) {
	ok := Registration{Client: "erp", Resource: "OA", URLs: []string{"https://erp.example.com/h", "http://127.0.0.1:9/h"},
		Secret: "env:" + EnvSecretPrefix + "OA"}
	if bad := CheckRegistration(ok); len(bad) > 0 {
		t.Fatalf("a good registration refused: %v", bad)
	}
	for _, c := range []struct {
		change func(*Registration)
		field  string
		want   string
	}{
		{func(r *Registration) { r.Secret = "whsec-inline-0123456789" }, "secret", "by reference only"},
		{func(r *Registration) { r.Secret = "env:RIMFLOW_API_TOKEN" }, "secret", EnvSecretPrefix},
		{func(r *Registration) { r.Secret = "env:" + EnvSecretPrefix }, "secret", EnvSecretPrefix},
		{func(r *Registration) { r.Secret = "file:relative/x" }, "secret", "absolute"},
		{func(r *Registration) { r.Secret = "file:/run/secrets/../x" }, "secret", "clean"},
		{func(r *Registration) { r.Secret = "" }, "secret", "required"},
		{func(r *Registration) { r.URLs = nil }, "urls", "at least one"},
		{func(r *Registration) { r.URLs = make([]string, MaxURLs+1) }, "urls", "at most"},
		{func(r *Registration) { r.URLs = []string{"http://erp.example.com/h"} }, "urls[0]", "https"},
		{func(r *Registration) { r.URLs = []string{"https://u:p@erp.example.com/h"} }, "urls[0]", "no user or password"},
		{func(r *Registration) { r.URLs = []string{"https://a.example.com/h", "https://a.example.com/h"} }, "urls[1]", "repeats"},
		{func(r *Registration) { r.URLs = []string{"https://a.example.com/" + strings.Repeat("x", MaxURLLen)} }, "urls[0]", "at most"},
	} {
		r := ok
		r.URLs = append([]string(nil), ok.URLs...)
		c.change(&r)
		if got := CheckRegistration(r)[c.field]; !strings.Contains(got, c.want) {
			t.Errorf("%+v: %s is %q, want %q", r, c.field, got, c.want)
		}
	}
	if err := CheckSecretPlace("file:/run/hooks/oa", "/run/hooks"); err != nil {
		t.Errorf("a file in the folder: %v", err)
	}
	for _, ref := range []string{"file:/etc/passwd", "file:/run/hooks", "file:/run/hooks-other/x"} {
		if err := CheckSecretPlace(ref, "/run/hooks"); err == nil {
			t.Errorf("%s outside the folder was accepted", ref)
		}
	}
	if err := CheckSecretPlace("file:/run/hooks/oa", ""); err == nil || !strings.Contains(err.Error(), "RIMFLOW_WEBHOOK_SECRETS_DIR") {
		t.Errorf("a file without the folder set: %v", err)
	}
}

func TestRegistrationsPerClient(t *testing.T) {
	var st RegistryState
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	a := Registration{Client: "b", Resource: "OA", URLs: []string{"https://b.example.com/h"}, Secret: "env:" + EnvSecretPrefix + "B"}
	if res := st.Upsert(a, now); !res.Created {
		t.Error("first registration not created")
	}
	a2 := a
	a2.Client = "a"
	st.Upsert(a2, now)
	a.URLs = []string{"https://b2.example.com/h"}
	if res := st.Upsert(a, now); res.Created || len(st.Registrations) != 2 {
		t.Errorf("a replacement: %+v %+v", res, st.Registrations)
	}
	if st.Registrations[0].Client != "a" || st.Registrations[1].URLs[0] != "https://b2.example.com/h" {
		t.Errorf("registrations: %+v", st.Registrations)
	}
	if st.Remove("a", "SAP") || !st.Remove("a", "OA") || len(For(st.Registrations, "OA")) != 1 {
		t.Errorf("remove: %+v", st.Registrations)
	}
}

func TestJournalSequencesAndRetention(t *testing.T) {
	var st RegistryState
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ev := func(i int) JournalRequest {
		return JournalRequest{Resource: "OA", ID: fmt.Sprintf("run-%d", i), Event: json.RawMessage(fmt.Sprintf(`{"id":"run-%d"}`, i)), Max: 10, Keep: time.Hour}
	}
	for i := 1; i <= 12; i++ {
		if seq := st.Append(ev(i), now); seq != int64(i) {
			t.Fatalf("event %d got sequence %d", i, seq)
		}
	}
	if seq := st.Append(ev(12), now); seq != 12 {
		t.Errorf("a retried event got a new sequence %d", seq)
	}
	if seq := st.Append(JournalRequest{Resource: "SAP", ID: "x", Event: json.RawMessage(`{}`)}, now); seq != 1 {
		t.Errorf("another resource's first sequence is %d", seq)
	}
	page := st.Page(EventsQuery{Resource: "OA", From: 1, Limit: 100})
	if page.First != 3 || page.Last != 12 || len(page.Events) != 10 {
		t.Errorf("over Max the oldest go: first %d last %d, %d events", page.First, page.Last, len(page.Events))
	}
	page = st.Page(EventsQuery{Resource: "OA", From: 5, Limit: 3})
	if len(page.Events) != 3 || page.Events[0].Seq != 5 || page.Events[2].Seq != 7 {
		t.Errorf("a page from 5: %+v", page.Events)
	}
	if page = st.Page(EventsQuery{Resource: "OA", From: 13}); len(page.Events) != 0 || page.Last != 12 {
		t.Errorf("a page past the end: %+v", page)
	}
	// Two hours on, one more event: everything older than Keep goes.
	st.Append(ev(13), now.Add(2*time.Hour))
	if page = st.Page(EventsQuery{Resource: "OA", From: 1}); page.First != 13 || len(page.Events) != 1 {
		t.Errorf("after Keep: %+v", page)
	}
}

func TestWithSequence(t *testing.T) {
	if got := string(WithSequence([]byte(`{"id":"x","seq":3}`), 42)); got != `{"sequence":42,"id":"x","seq":3}` {
		t.Errorf("got %s", got)
	}
	if got := string(WithSequence([]byte(`{}`), 1)); got != `{"sequence":1}` {
		t.Errorf("got %s", got)
	}
	var v map[string]any
	if err := json.Unmarshal(WithSequence([]byte(`{"a":[1,2]}`), 7), &v); err != nil || v["sequence"] != float64(7) {
		t.Errorf("not JSON with the sequence: %v %v", v, err)
	}
}

// The journals together stay under MaxJournalBytes (the registry's state is one payload): the
// oldest events, of any resource, go first.
func TestJournalsStayUnderTheirByteBudget(t *testing.T) {
	var st RegistryState
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	big := `{"data":"` + strings.Repeat("x", 100<<10) + `"}` // 10 fit: the newest 10 of 15 stay
	for i := 0; i < 15; i++ {
		res := []string{"OA", "SAP"}[i%2]
		st.Append(JournalRequest{Resource: res, ID: fmt.Sprint(i), Event: json.RawMessage(big)}, now.Add(time.Duration(i)*time.Second))
	}
	total := 0
	for _, j := range st.Journals {
		for _, e := range j.Events {
			total += len(e.Event)
		}
	}
	if total > MaxJournalBytes {
		t.Errorf("the journals hold %d bytes", total)
	}
	if oa, sap := st.Page(EventsQuery{Resource: "OA", From: 1}), st.Page(EventsQuery{Resource: "SAP", From: 1}); oa.First != 4 || sap.First != 3 || oa.Last != 8 || sap.Last != 7 {
		t.Errorf("the oldest did not go first: OA %d..%d, SAP %d..%d", oa.First, oa.Last, sap.First, sap.Last)
	}
}
