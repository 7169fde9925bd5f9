package workflows_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// The registry workflow: a registration its validator refuses is not stored (naming the field);
// a retried journal entry keeps its sequence; it continues as new carrying its state.
func TestWebhookRegistryWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.WebhookRegistryWorkflow, workflow.RegisterOptions{Name: webhooks.RegistryWorkflowName})
	good := webhooks.Registration{Client: "erp", Resource: "OA", URLs: []string{"https://erp.example.com/h"}, Secret: "env:" + webhooks.EnvSecretPrefix + "OA"}
	bad := good
	bad.Secret = "whsec-inline-0123456789"
	var rejected error
	var created webhooks.RegisterResult
	var seqs []int64
	update := func(name, id string, arg any, done func(any, error)) {
		env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { rejected = err }, OnComplete: done,
		}, arg)
	}
	env.RegisterDelayedCallback(func() {
		update(webhooks.UpdateRegister, "bad", bad, func(any, error) { t.Error("an inline secret was stored") })
		update(webhooks.UpdateRegister, "good", good, func(v any, err error) {
			if err == nil {
				created = v.(webhooks.RegisterResult)
			}
		})
		for _, id := range []string{"e1", "e2", "e1"} {
			update(webhooks.UpdateJournal, "journal-"+id+"-"+time.Now().String(), webhooks.JournalRequest{Resource: "OA", ID: id, Event: json.RawMessage(`{"id":"` + id + `"}`)},
				func(v any, err error) {
					if err == nil {
						seqs = append(seqs, v.(int64))
					}
				})
		}
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(webhooks.QueryRegistrations)
		var regs []webhooks.Registration
		if err != nil || v.Get(&regs) != nil || len(regs) != 1 || regs[0].Secret != good.Secret {
			t.Errorf("registrations: %+v %v", regs, err)
		}
		v, err = env.QueryWorkflow(webhooks.QueryEvents, webhooks.EventsQuery{Resource: "OA", From: 1})
		var page webhooks.EventsPage
		if err != nil || v.Get(&page) != nil || page.Last != 2 || len(page.Events) != 2 {
			t.Errorf("events: %+v %v", page, err)
		}
	}, 2*time.Second)
	env.ExecuteWorkflow(webhooks.RegistryWorkflowName, webhooks.RegistryState{})
	if rejected == nil || !strings.Contains(rejected.Error(), "secret") {
		t.Errorf("the inline secret's rejection: %v", rejected)
	}
	if !created.Created || created.Registration.UpdatedAt.IsZero() {
		t.Errorf("registered: %+v", created)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 1 {
		t.Errorf("sequences %v, want [1 2 1]", seqs)
	}
}
