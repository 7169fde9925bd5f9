package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/devstack/harness"
	"rimflow/workflows"
)

// WatcherActivity is the activity that holds a bill's socket or long poll, in this build and in
// the first one (cfe5ce2), so the kit counts either's watchers.
const WatcherActivity = "WatchInvoices"

// Watchers is what Temporal's pending activities say about the watchers of a set of bills.
type Watchers struct {
	Bills int `json:"bills"` // workflows described
	// Running watchers have been handed to a worker (started, or cancel requested and not yet
	// noticed): each holds a socket or a long poll there.
	Running int `json:"running"`
	// Scheduled watchers wait for a free worker slot.
	Scheduled int `json:"scheduled"`
	// Unanswered is how many workflows could not be described (an error each).
	Unanswered int `json:"unanswered,omitempty"`
	// Examples name a few watchers counted (workflow, state, attempt), to look into a leftover.
	Examples []string `json:"examples,omitempty"`
}

// CountWatchers describes every workflow (concurrency at a time) and counts the pending
// WatchInvoices activities of the open ones by state.
func CountWatchers(ctx context.Context, c client.Client, workflowIDs []string, concurrency int) Watchers {
	var mu sync.Mutex
	out := Watchers{Bills: len(workflowIDs)}
	each(ctx, workflowIDs, max(concurrency, 1), func(ctx context.Context, id string) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := c.DescribeWorkflowExecution(dctx, id, "")
		cancel()
		mu.Lock()
		defer mu.Unlock()
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return // never started: nothing pending
		case err != nil:
			out.Unanswered++
			return
		}
		if resp.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			// A closed workflow still lists the activities it abandoned (WaitForCancellation false),
			// but nothing runs them: the server refuses their heartbeats, which ends them.
			return
		}
		for _, a := range resp.GetPendingActivities() {
			if a.GetActivityType().GetName() != WatcherActivity {
				continue
			}
			switch a.GetState() {
			case enumspb.PENDING_ACTIVITY_STATE_SCHEDULED:
				out.Scheduled++
			default:
				out.Running++
			}
			if len(out.Examples) < 3 {
				out.Examples = append(out.Examples, fmt.Sprintf("%s: %s, attempt %d", id, a.GetState(), a.GetAttempt()))
			}
		}
	})
	return out
}

// HeartbeatIntervals watches the watchers of a few workflows until ctx ends, describing each
// every `every`, and returns the gaps between successive heartbeats the server recorded for the
// same activity (its LastHeartbeatTime moving on). The gaps are server times, so the sampling
// period only has to be shorter than a gap.
func HeartbeatIntervals(ctx context.Context, c client.Client, workflowIDs []string, every time.Duration) []time.Duration {
	last := map[string]time.Time{} // workflowID/activityID -> last heartbeat seen
	var gaps []time.Duration
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, id := range workflowIDs {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err := c.DescribeWorkflowExecution(dctx, id, "")
			cancel()
			if err != nil {
				continue
			}
			for _, a := range resp.GetPendingActivities() {
				if a.GetActivityType().GetName() != WatcherActivity || a.GetLastHeartbeatTime() == nil {
					continue
				}
				key := id + "/" + a.GetActivityId() + "/" + strconv.Itoa(int(a.GetAttempt()))
				hb := a.GetLastHeartbeatTime().AsTime()
				if prev, ok := last[key]; ok && hb.After(prev) {
					gaps = append(gaps, hb.Sub(prev))
				}
				last[key] = hb
			}
		}
		select {
		case <-ctx.Done():
			return gaps
		case <-t.C:
		}
	}
}

// MedianDuration is the median of ds (0 for none).
func MedianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// LocalAPI is the ERP-facing HTTP API (api.Build, as `starter serve` runs it) in this process, on a
// loopback port, over the env's Temporal client and the bills' task queue.
type LocalAPI struct {
	URL string
	srv *http.Server
}

// StartLocalAPI serves the HTTP API with its default request timeout (api.DefaultRequestTimeout).
func (e *Env) StartLocalAPI() (*LocalAPI, error) {
	h, err := api.Build(api.Options{Client: e.Client, Namespace: e.Server.Namespace(), TaskQueue: workflows.DefaultTaskQueue,
		Logger: e.opts.Logger.With("component", "api"), ReissueMargin: e.opts.ReissueMargin})
	if err != nil {
		return nil, fmt.Errorf("API: %w", err)
	}
	srv, url, err := harness.ServeHTTP("API listener", "127.0.0.1:0", h, e.opts.Logger.With("component", "api"))
	if err != nil {
		return nil, err
	}
	return &LocalAPI{URL: url, srv: srv}, nil
}

// Close stops the API.
func (a *LocalAPI) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
}

// Probes is what a batch of POST /v1/bills answered.
type Probes struct {
	Count int `json:"count"`
	// Started answered 201 (or 200 for a bill already running) with a collect URL.
	Started int `json:"started"`
	// Statuses counts the answers by HTTP status ("timeout" when the client gave up first).
	Statuses map[string]int `json:"statuses"`
	Latency  Summary        `json:"latency"`
	Errors   []string       `json:"errors,omitempty"` // the first few refusals, as answered
}

// ProbeStarts posts each bill to the API's POST /v1/bills (concurrency at a time), once each, and
// reports the answers and how long they took: what an ERP sees when it starts a bill now.
func (a *LocalAPI) ProbeStarts(ctx context.Context, bills []workflows.BillInput, concurrency int) Probes {
	out := Probes{Count: len(bills), Statuses: map[string]int{}}
	t := NewTimings()
	var mu sync.Mutex
	hc := &http.Client{Timeout: api.DefaultRequestTimeout + 15*time.Second}
	each(ctx, bills, max(concurrency, 1), func(ctx context.Context, in workflows.BillInput) {
		body, _ := json.Marshal(in)
		began := time.Now()
		status, answer, err := post(ctx, hc, a.URL+"/v1/bills", body)
		took := time.Since(began)
		t.Add("start", took)
		mu.Lock()
		defer mu.Unlock()
		key := strconv.Itoa(status)
		var ne net.Error
		if err != nil {
			key = "error"
			if errors.As(err, &ne) && ne.Timeout() {
				key = "timeout"
			}
		}
		out.Statuses[key]++
		var resp api.StartResponse
		if err == nil && (status == http.StatusCreated || status == http.StatusOK) &&
			json.Unmarshal(answer, &resp) == nil && EventCodeOf(resp.Collect.PC) != "" {
			out.Started++
			return
		}
		if len(out.Errors) < 3 {
			msg := string(answer)
			if err != nil {
				msg = err.Error()
			}
			out.Errors = append(out.Errors, fmt.Sprintf("%s after %.1fs: %s", key, took.Seconds(), truncate(msg, 200)))
		}
	})
	out.Latency = t.Summary("start")
	return out
}

func post(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, raw, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// each runs fn for every item, concurrency at a time, until the items or ctx run out.
func each[T any](ctx context.Context, items []T, concurrency int, fn func(context.Context, T)) {
	work := make(chan T)
	var wg sync.WaitGroup
	for range min(concurrency, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				fn(ctx, it)
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		work <- it
	}
	close(work)
	wg.Wait()
}
