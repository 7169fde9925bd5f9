package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rimflow/internal/version"
)

func TestSDKHandlerVaryingTagsAndScrape(t *testing.T) {
	reg := NewRegistry()
	h := NewSDKHandler(reg)
	h.WithTags(map[string]string{"namespace": "default", "task_queue": "q"}).Counter("temporal_request").Inc(2)
	// Same name, a different tag set: must not break registration or the scrape.
	h.WithTags(map[string]string{"namespace": "default", "operation": "Poll"}).Counter("temporal_request").Inc(1)
	h.Gauge("temporal_num_pollers").Update(3)
	h.WithTags(map[string]string{"activity-type": "Bind"}).Timer("temporal.activity.latency").Record(1500 * time.Millisecond)
	cloud := NewCloud(reg)
	cloud.Observe("91310000MA1FL0001R", "billSave", "ok", 20*time.Millisecond)
	cloud.Observe("91310000MA1FL0001R", "billSave", "retryable", time.Second)

	// A second handler on the same registry reuses the families.
	NewSDKHandler(reg).Counter("temporal_request").Inc(1)

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, body)
	}
	out := string(body)
	for _, want := range []string{
		`temporal_request{namespace="default",task_queue="q"} 2`,
		`temporal_request{namespace="default",task_queue=""} 1`,
		`temporal_num_pollers 3`,
		`temporal_activity_latency_seconds_sum{activity_type="Bind"} 1.5`,
		`rimflow_cloud_calls_total{enterprise="91310000MA1FL0001R",name="billSave",outcome="ok"} 1`,
		`rimflow_cloud_calls_total{enterprise="91310000MA1FL0001R",name="billSave",outcome="retryable"} 1`,
		`rimflow_cloud_call_seconds_count{enterprise="91310000MA1FL0001R",name="billSave",outcome="ok"} 1`,
		`go_goroutines`,
		`rimflow_build_info{build_id="` + version.BuildID() + `",release="",revision=""} 1`, // a test binary: no link-time release, no VCS stamp
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
