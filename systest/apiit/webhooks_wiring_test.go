package apiit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/activities/calls"
	"rimflow/systest/testenv"
)

// The two places TestERPWebhooks meets the worker's webhook side (internal/webhooks and the
// DeliverEvent activity, written on the workflow side of issue 15). Until they are merged the
// test fails here, saying so; the merge replaces these two bodies with the real wiring and the
// real verification, and everything else in the test stays.

// startWebhookWorker starts the bills' worker with the ERP's webhooks for resource going to url,
// signed with secret, and returns a stop that ends it (a restart is stop, then start again).
func startWebhookWorker(t *testing.T, c client.Client, cloud *testenv.Cloud, resource, url, secret string) (stop func()) {
	t.Helper()
	_, _, _, _, _ = c, cloud, resource, url, secret
	t.Fatal("webhooks: the worker's webhook configuration and the DeliverEvent activity are not merged yet (workflow side of issue 15)")
	return func() {}
}

// verifyWebhook checks a delivery as an ERP would: the timestamp is recent and the signature is
// the HMAC-SHA256 of "<timestamp>.<body>" under the shared secret; then it decodes the event.
func verifyWebhook(secret string, r *http.Request, body []byte) (calls.Event, error) {
	ts := r.Header.Get("X-Rimflow-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return calls.Event{}, errors.New("no timestamp")
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return calls.Event{}, errors.New("timestamp too old or in the future")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(strings.TrimSpace(r.Header.Get("X-Rimflow-Signature"))), []byte(want)) {
		return calls.Event{}, errors.New("bad signature")
	}
	var ev calls.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return calls.Event{}, err
	}
	return ev, nil
}
