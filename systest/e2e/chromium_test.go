package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rimflow/systest/skips"
	"rimflow/workflows"
)

// browserCollect opens the simulator's collect page for a started bill in headless Chromium,
// ticks two compliant invoices, clicks 「导入单据」 and sees the bill move on through the API.
func (e *e2e) browserCollect(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(requireBrowser) == "1" || os.Getenv("CI") != "" {
			// .ci/run installs Chromium and sets RIMFLOW_REQUIRE_BROWSER=1: in CI a missing browser
			// is a failure, never a silent skip.
			t.Fatalf("no browser, and %s=1 (or CI) requires one: %s not found (%v)", requireBrowser, chromiumPath, err)
		}
		skips.Skip(t, fmt.Sprintf("no browser: %s not found", chromiumPath), "apt-get install -y chromium (Debian's; .ci/run does)")
	}
	a := e.MustStart(t, "E2E-BROWSER")

	b := launchChromium(t, e.ctx)
	page := b.newPage(t, "about:blank")
	page.navigate(t, a.Collect.PC)

	title := page.evalString(t, `document.title`)
	if !strings.Contains(title, "采集发票") {
		t.Fatalf("collect page title %q; body: %.300s", title, page.evalString(t, `document.body.innerText`))
	}
	// Untick everything, then tick the first two compliant invoices, as a user would click them.
	var ticked []string
	page.evalJSON(t, `(() => {
		const boxes = [...document.querySelectorAll('input[type=checkbox][name=serialNo]:not(:disabled)')];
		boxes.forEach(b => { if (b.checked) b.click(); });
		const ok = boxes.filter(b => b.closest('tr').dataset.compliant === 'true').slice(0, 2);
		ok.forEach(b => b.click());
		return ok.filter(b => b.checked).map(b => b.value);
	})()`, &ticked)
	if len(ticked) != 2 {
		t.Fatalf("ticked %v, want two compliant invoices on the page", ticked)
	}
	page.clickAndWaitLoad(t, `document.getElementById('import').click()`)
	if body := page.evalString(t, `document.body.innerText`); !strings.Contains(body, "导入成功") {
		t.Fatalf("after 导入单据 the page says: %.300s", body)
	}

	st := e.WaitStage(t, a.ID, workflows.StageAwaitingSupervisor)

	// Temporal Web, open beside it, renders the bill in its workflow list: its single-page app
	// runs in the browser and reaches the embedded server through the UI server's API.
	page.navigate(t, e.Target.WebURL+"/namespaces/default/workflows")
	page.waitText(t, a.WorkflowID, 60*time.Second)

	var got []string
	for _, inv := range st.Invoices {
		got = append(got, inv.SerialNo)
	}
	sort.Strings(got)
	sort.Strings(ticked)
	if strings.Join(got, ",") != strings.Join(ticked, ",") {
		t.Fatalf("bill holds invoices %v, the browser imported %v", got, ticked)
	}
}

// browser is a headless Chromium driven over the DevTools protocol.
type browser struct {
	ctx     context.Context
	httpURL string // http://127.0.0.1:<port>
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

func launchChromium(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing its profile while the
	// test's own cleanup runs, so this dir is removed after the whole process group is gone.
	profile, err := os.MkdirTemp("", "rimflow-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	// Its own process group, so stopping it also stops the renderer and zygote it forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		for i := 0; i < 20; i++ {
			if err := os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the chromium profile %s", profile)
	})
	found := make(chan string, 1)
	var tail []string
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			if len(tail) < 20 {
				tail = append(tail, line)
			}
			mu.Unlock()
			if m := devtoolsLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case ws := <-found:
		// ws://127.0.0.1:PORT/devtools/browser/ID → the HTTP endpoint on the same port.
		rest := strings.TrimPrefix(ws, "ws://")
		host := rest[:strings.Index(rest, "/")]
		return &browser{ctx: ctx, httpURL: "http://" + host}
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("chromium did not announce its DevTools endpoint; stderr:\n%s", strings.Join(tail, "\n"))
		return nil
	}
}

// newPage opens a tab and connects to its DevTools websocket.
func (b *browser) newPage(t *testing.T, u string) *cdpPage {
	t.Helper()
	req, _ := http.NewRequestWithContext(b.ctx, http.MethodPut, b.httpURL+"/json/new?"+u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open tab: %v", err)
	}
	defer resp.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("open tab: HTTP %d, %v", resp.StatusCode, err)
	}
	conn, _, err := websocket.DefaultDialer.DialContext(b.ctx, target.WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatalf("connect to tab: %v", err)
	}
	p := &cdpPage{ctx: b.ctx, conn: conn, pending: map[int64]chan cdpMessage{}, events: make(chan cdpMessage, 256)}
	t.Cleanup(func() { _ = conn.Close() })
	go p.readLoop()
	p.call(t, "Page.enable", nil, nil)
	p.call(t, "Runtime.enable", nil, nil)
	return p
}

type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// cdpPage is one tab: commands with ids, answers matched by id, events on a channel.
type cdpPage struct {
	ctx     context.Context
	conn    *websocket.Conn
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	events  chan cdpMessage
}

func (p *cdpPage) readLoop() {
	for {
		var m cdpMessage
		if err := p.conn.ReadJSON(&m); err != nil {
			close(p.events)
			return
		}
		if m.ID != 0 {
			p.mu.Lock()
			ch := p.pending[m.ID]
			delete(p.pending, m.ID)
			p.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case p.events <- m:
		default: // nobody waits for this event
		}
	}
}

func (p *cdpPage) call(t *testing.T, method string, params, result any) {
	t.Helper()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	p.mu.Lock()
	err := p.conn.WriteJSON(msg)
	p.mu.Unlock()
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("%s: result: %v", method, err)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no answer from chromium", method)
	case <-p.ctx.Done():
		t.Fatalf("%s: %v", method, p.ctx.Err())
	}
}

// drainEvents forgets events seen so far, so the next wait sees only what follows.
func (p *cdpPage) drainEvents() {
	for {
		select {
		case <-p.events:
		default:
			return
		}
	}
}

func (p *cdpPage) waitEvent(t *testing.T, method string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-p.events:
			if !ok {
				t.Fatalf("chromium closed the tab while waiting for %s", method)
			}
			if m.Method == method {
				return
			}
		case <-timeout:
			t.Fatalf("no %s from chromium", method)
		}
	}
}

func (p *cdpPage) navigate(t *testing.T, u string) {
	t.Helper()
	p.drainEvents()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	p.call(t, "Page.navigate", map[string]any{"url": u}, &res)
	if res.ErrorText != "" {
		t.Fatalf("navigate to the collect page: %s", res.ErrorText)
	}
	p.waitEvent(t, "Page.loadEventFired")
}

// clickAndWaitLoad runs a script that submits a form and waits for the next page to load.
func (p *cdpPage) clickAndWaitLoad(t *testing.T, script string) {
	t.Helper()
	p.drainEvents()
	p.evalJSON(t, script+`; true`, nil)
	p.waitEvent(t, "Page.loadEventFired")
}

func (p *cdpPage) evalJSON(t *testing.T, expr string, out any) {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	p.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if res.ExceptionDetails != nil {
		t.Fatalf("script failed: %s %s", res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(res.Result.Value, out); err != nil {
			t.Fatalf("script result %s: %v", res.Result.Value, err)
		}
	}
}

func (p *cdpPage) evalString(t *testing.T, expr string) string {
	t.Helper()
	var s string
	p.evalJSON(t, expr, &s)
	return s
}

// waitText polls the rendered page until its text contains want (single-page apps render after load).
func (p *cdpPage) waitText(t *testing.T, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		text := p.evalString(t, `document.body ? document.body.innerText : ""`)
		if strings.Contains(text, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page never showed %q; it shows: %.500s", want, text)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
