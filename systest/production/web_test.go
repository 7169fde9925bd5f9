package production

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The temporalio/ui image is ui-server started as `./ui-server --env docker start`, configured by
// config/docker.yaml: a template of the TEMPORAL_* variables the compose file sets. Both come
// from the ui-server module rimflow pins (the image's release), so the test builds the program
// and uses the module's template.
var webProgram struct {
	once sync.Once
	path string
	dir  string // holds config/docker.yaml
	err  error
}

func buildWeb(bin string) (string, string, error) {
	webProgram.once.Do(func() {
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out := filepath.Join(bin, "ui-server")
		cmd := exec.Command(gobin, "build", "-o", out, "github.com/temporalio/ui-server/v2/cmd/server")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			webProgram.err = fmt.Errorf("go build ui-server: %w: %s", err, stderr.String())
			return
		}
		cmd = exec.Command(gobin, "list", "-m", "-f", "{{.Dir}}", "github.com/temporalio/ui-server/v2")
		modDir, err := cmd.Output()
		if err != nil {
			webProgram.err = fmt.Errorf("the ui-server module: %w", err)
			return
		}
		template, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(modDir)), "config", "docker.yaml"))
		if err != nil {
			webProgram.err = err
			return
		}
		// The one change: the container listens on every interface of its own network; here the
		// published side (127.0.0.1, TEMPORAL_UI_BIND's default) is the listener itself.
		template = append(template, []byte("\nhost: 127.0.0.1\n")...)
		dir := filepath.Join(bin, "ui-root")
		if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
			webProgram.err = err
			return
		}
		webProgram.err = os.WriteFile(filepath.Join(dir, "config", "docker.yaml"), template, 0o644)
		webProgram.path, webProgram.dir = out, dir
	})
	return webProgram.path, webProgram.dir, webProgram.err
}

// webPort is the free port Temporal Web gets; call it before StartAPI, whose codec origins
// (RIMFLOW_CODEC_ORIGINS) come from TEMPORAL_UI_PUBLIC_URL, as in the compose file.
func (s *shape) webPort() int {
	p := s.port()
	s.dotenv["TEMPORAL_UI_PUBLIC_URL"] = "http://127.0.0.1:" + strconv.Itoa(p)
	return p
}

// StartWeb runs the temporal-ui service (Temporal Web) on port with the compose file's environment:
// its codec endpoint is RIMFLOW_PUBLIC_API_URL's /v1/codec (the API at apiURL), cookies included,
// CORS for TEMPORAL_UI_PUBLIC_URL. It returns Web's URL once it answers.
func (s *shape) StartWeb(port int, apiURL string) string {
	t := s.t
	svc := s.service("temporal-ui")
	if !strings.HasPrefix(svc.Image, "temporalio/ui:") {
		t.Fatalf("the temporal-ui service runs %s, not temporalio/ui", svc.Image)
	}
	path, root, err := buildWeb(s.bin)
	if err != nil {
		t.Fatal(err)
	}
	s.dotenv["RIMFLOW_PUBLIC_API_URL"] = apiURL
	env := s.environment("temporal-ui")
	s.rewrite("temporal-ui", env)
	env["TEMPORAL_UI_PORT"] = strconv.Itoa(port) // the container's 8080, published on the host
	p := startProcess(t, "temporal-ui", path, []string{"--root", root, "--env", "docker", "start"}, s.processEnv(env, ""), s.dir)
	webURL := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(time.Minute)
	for {
		if p.Exited() {
			t.Fatalf("ui-server exited: %v\n%s", p.Err(), p.tail(3000))
		}
		status := 0
		if resp, err := http.Get(webURL + "/healthz"); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if status == http.StatusOK {
			return webURL
		}
		if time.Now().After(deadline) {
			t.Fatalf("ui-server at %s: /healthz answers %d\n%s", webURL, status, p.tail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
