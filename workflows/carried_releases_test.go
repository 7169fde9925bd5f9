package workflows_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"rimflow/activities/calls"
	"rimflow/workflows"
)

// The state a bill carries across continue-as-new is a versioned contract: a run of the new code
// starts from what an older release's run handed over. For every kept release, each
// continue-as-new in its histories is decoded into the current types with unknown fields refused
// (a field removed or renamed would be lost) and encoded again: the result must be the same JSON
// (a field whose type or encoding changed would not survive).
func TestCarriedStateOfEveryReleaseDecodes(t *testing.T) {
	for _, dir := range releaseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			bills := 0
			for _, f := range releaseHistories(t, dir) {
				for _, args := range continuedAsNew(t, f) {
					switch args.workflowType {
					case workflows.BillWorkflowName:
						if len(args.payloads) != 2 {
							t.Fatalf("%s: BillWorkflow continued with %d arguments, want input and progress", f, len(args.payloads))
						}
						var in workflows.BillInput
						var progress *workflows.Progress
						survives(t, f, "input", args.payloads[0], &in)
						survives(t, f, "progress", args.payloads[1], &progress)
						if in.BillID == "" || progress == nil || progress.View.Stage == "" || len(progress.Invoices) == 0 {
							t.Fatalf("%s: the carried bill decodes empty: input %+v, progress %+v", f, in, progress)
						}
						bills++
					case calls.DeductionWorkflowName:
						if len(args.payloads) != 1 {
							t.Fatalf("%s: DeductionBatchWorkflow continued with %d arguments, want 1", f, len(args.payloads))
						}
						var in calls.DeductionBatchInput
						survives(t, f, "batch input", args.payloads[0], &in)
						if in.TaxNo == "" || in.Period == "" {
							t.Fatalf("%s: the carried batch decodes empty: %+v", f, in)
						}
					default:
						t.Errorf("%s: continue-as-new of an unknown workflow type %q", f, args.workflowType)
					}
				}
			}
			// Each release keeps a bill that continued as new (systest/itest TestLongBillContinuesAsNew).
			if bills == 0 {
				t.Fatalf("release %s keeps no history of a bill that continued as new", dir)
			}
		})
	}
}

type continued struct {
	workflowType string
	payloads     [][]byte // each argument's JSON
}

// continuedAsNew reads a history file's continue-as-new events and their arguments.
func continuedAsNew(t *testing.T, file string) []continued {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := client.HistoryFromJSON(bytes.NewReader(raw), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []continued
	for _, ev := range hist.GetEvents() {
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			continue
		}
		a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes()
		c := continued{workflowType: a.GetWorkflowType().GetName()}
		for _, p := range a.GetInput().GetPayloads() {
			if enc := string(p.GetMetadata()["encoding"]); enc != "json/plain" {
				t.Fatalf("%s: a carried argument encoded %q, want json/plain (histories are recorded without payload encryption)", file, enc)
			}
			c.payloads = append(c.payloads, p.GetData())
		}
		out = append(out, c)
	}
	return out
}

// survives decodes data into v refusing unknown fields, encodes v again and compares the two.
func survives(t *testing.T, file, what string, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: the carried %s does not decode into the current type: %v", file, what, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var was, now any
	if err := json.Unmarshal(data, &was); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &now); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(was, now) {
		t.Fatalf("%s: the carried %s does not survive the current type:\nrecorded %s\ndecoded  %s", file, what, data, again)
	}
}
