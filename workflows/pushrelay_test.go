package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// A bill's push relay sends its pushes one at a time in the order signalled, each until it goes
// through (the first fails twice: the second waits behind it), queues a msgId signalled again
// only once, and ends when idle.
func TestPushRelayInOrderAtLeastOnce(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.PushRelayWorkflow, workflow.RegisterOptions{Name: calls.PushRelayWorkflowName})
	var attempts, relayed []string
	failures := map[string]int{"m1": 2}
	env.RegisterActivityWithOptions(func(_ context.Context, in calls.RelayPush) error {
		attempts = append(attempts, in.MsgID)
		if failures[in.MsgID] > 0 {
			failures[in.MsgID]--
			return errors.New("image system: HTTP 503")
		}
		relayed = append(relayed, in.MsgID)
		return nil
	}, activity.RegisterOptions{Name: "RelayPush"})
	push := func(id string) calls.RelayPush {
		return calls.RelayPush{TaxNo: "91310115MA1K4L8R2X", MsgID: id, Push: []byte(`{"msgId":"` + id + `"}`)}
	}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(calls.SignalRelayPush, push("m2"))
		env.SignalWorkflow(calls.SignalRelayPush, push("m1")) // a retried push, while m1 is queued
	}, time.Millisecond)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(calls.SignalRelayPush, push("m3")) }, 30*time.Minute)
	env.ExecuteWorkflow(calls.PushRelayWorkflowName, calls.PushRelayInput{Pending: []calls.RelayPush{push("m1")}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if want := []string{"m1", "m1", "m1", "m2", "m3"}; !slices.Equal(attempts, want) {
		t.Errorf("attempts %v, want %v", attempts, want)
	}
	if want := []string{"m1", "m2", "m3"}; !slices.Equal(relayed, want) {
		t.Errorf("relayed %v, want %v", relayed, want)
	}
}
