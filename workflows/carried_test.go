package workflows_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"rimflow/workflows"
)

// The state a bill carries across continue-as-new is read by the next run, which may be a later
// release: decoding what the recorded runs carried into today's Progress and encoding it again
// must give the same bytes, so no field was renamed, moved or dropped — except the saga's
// entries, which the recorded release carried without their step ({}, one more each run): the
// resuming run rebuilds them, so they re-encode as the one step those bills registered (bound,
// never marked used: unbind).
func TestCarriedStateKeepsItsShape(t *testing.T) {
	for _, tc := range []struct{ file, where string }{
		{"continued_final_run.json", "the run's start (what it was carried)"},
		{"continued_first_run.json", "the run's continue-as-new (what it carries)"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			h := recordedHistory(t, tc.file)
			var input *commonpb.Payloads
			for _, ev := range h.Events {
				if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil && tc.file == "continued_final_run.json" {
					input = a.GetInput()
				}
				if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
					input = a.GetInput()
				}
			}
			if input == nil || len(input.Payloads) != 2 {
				t.Fatalf("no carried state in %s (%s)", tc.file, tc.where)
			}
			carried := input.Payloads[1].GetData()
			var p workflows.Progress
			if err := json.Unmarshal(carried, &p); err != nil {
				t.Fatal(err)
			}
			if p.View.Stage == "" || len(p.Invoices) == 0 || len(p.Seq) == 0 {
				t.Fatalf("carried state decoded empty: stage %q, %d invoices", p.View.Stage, len(p.Invoices))
			}
			workflows.RestoreCarriedSaga(&p)
			again, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			lost := regexp.MustCompile(`"compensations":\[\{\}(,\{\})*\]`)
			if !lost.Match(carried) {
				t.Fatalf("the recorded run carries no saga of empty entries: %s", excerpt(carried, bytes.Index(carried, []byte(`"compensations"`))))
			}
			carried = lost.ReplaceAll(carried, []byte(`"compensations":[{"step":"unbind"}]`))
			if !bytes.Equal(again, carried) {
				i := 0
				for i < len(again) && i < len(carried) && again[i] == carried[i] {
					i++
				}
				t.Fatalf("re-encoded carried state differs at byte %d:\nrecorded: …%s…\nnow:      …%s…",
					i, excerpt(carried, i), excerpt(again, i))
			}
		})
	}
}

// recordedHistory reads a history the released version a654ef2 recorded.
func recordedHistory(t *testing.T, file string) *historypb.History {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(releasesDir, "a654ef2", file))
	if err != nil {
		t.Fatal(err)
	}
	var h historypb.History
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return &h
}

func excerpt(b []byte, i int) string {
	return string(b[max(0, i-80):min(len(b), i+80)])
}
