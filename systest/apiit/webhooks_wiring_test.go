package apiit

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"rimflow/activities"
	"rimflow/devstack/harness"
	"rimflow/internal/app"
	"rimflow/internal/enterprises"
	"rimflow/internal/webhooks"
	"rimflow/workflows"
)

// The two places TestERPWebhooks meets the worker's webhook side (internal/webhooks and the
// DeliverEvent activity).

// startWebhookWorker starts the bills' worker with the ERP's webhooks for resource going to url,
// signed with secret, and returns a stop that ends it (a restart is stop, then start again).
func startWebhookWorker(t *testing.T, c client.Client, cloud *harness.Cloud, resource, url, secret string) (stop func()) {
	t.Helper()
	reg, err := webhooks.Parse([]byte("resources:\n  "+resource+":\n    urls: [\""+url+"\"]\n    secret: env:HOOK_SECRET\n"),
		func(k string) string {
			if k == "HOOK_SECRET" {
				return secret
			}
			return ""
		}, nil)
	if err != nil {
		t.Fatalf("webhooks: %v", err)
	}
	w, err := app.NewWorker(c, enterprises.Single(cloud.Client), app.WorkerOptions{
		TaskQueue:  workflows.DefaultTaskQueue,
		Worker:     worker.Options{WorkerStopTimeout: 2 * time.Second},
		Activities: activities.Activities{Webhooks: reg},
	})
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(w.Stop) }
	t.Cleanup(stop)
	return stop
}

// verifyWebhook checks a delivery as an ERP does (webhooks.Verify: a timestamp within 5 minutes,
// the signature over "<timestamp>.<body>"); it returns the event ID the headers name.
func verifyWebhook(secret string, r *http.Request, body []byte) (eventID string, err error) {
	if err := webhooks.Verify([]byte(secret), r.Header, body, time.Now(), 5*time.Minute); err != nil {
		return "", err
	}
	return r.Header.Get(webhooks.HeaderEventID), nil
}
