package workflows_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"rimflow/workflows"
)

// A start's collectUrl (StartCheck) answers the start's view once the eventCode is issued; one
// whose body differs from the bill's own is refused before anything is done; a plain collectUrl
// answers the URL alone, as before.
func TestStartCheckAnswersTheStartsView(t *testing.T) {
	h := newHarness(t)
	in := bill(workflows.Options{})
	other := in
	other.UserID = "u2"
	var start, plain, different *updateResult
	h.at(time.Second, func() {
		start = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc", Start: &workflows.StartCheck{Body: workflows.BodyDigest(in)}})
	})
	h.at(2*time.Second, func() { plain = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc"}) })
	h.at(3*time.Second, func() {
		different = h.update(workflows.UpdateCollectURL, workflows.CollectURLRequest{Client: "pc", Start: &workflows.StartCheck{Body: workflows.BodyDigest(other)}})
	})
	h.at(time.Minute, func() { h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "done"}) })
	h.run(in)
	if _, err := h.result(); err != nil {
		t.Fatal(err)
	}
	if start.err != nil || start.rejected != nil {
		t.Fatalf("start: %v %v", start.err, start.rejected)
	}
	got := start.value.(workflows.CollectURLResult)
	if v := got.Start; v == nil || v.Stage != workflows.StageCollecting || v.Collect.PC != got.URL || v.View.PC == "" || v.Collect.ExpiresAt == nil {
		t.Errorf("start's view = %+v (url %s)", got.Start, got.URL)
	}
	if p := plain.value.(workflows.CollectURLResult); p.Start != nil || p.EventCode != got.EventCode {
		t.Errorf("plain collectUrl = %+v, want the URL alone", p)
	}
	var app *temporal.ApplicationError
	if !errors.As(different.rejected, &app) || app.Type() != workflows.ErrTypeDifferentBody {
		t.Errorf("different body: rejected %v, err %v", different.rejected, different.err)
	}
	if workflows.BodyDigest(in) == workflows.BodyDigest(other) {
		t.Error("different bodies, same digest")
	}
	// What the server sets is not the caller's body.
	set := in
	set.Options.Notify = true
	set.Options.ReissueMargin = workflows.Duration(time.Minute)
	if workflows.BodyDigest(in) != workflows.BodyDigest(set) {
		t.Error("the server-set options changed the digest")
	}
}
