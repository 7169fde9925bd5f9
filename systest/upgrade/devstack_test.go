package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rimflow/workflows"
)

// addrs are one devstack's listen addresses; the upgraded devstack takes the same ones, as a
// reinstall on the same host would (the bills' collect URLs name the cloud's address).
type addrs struct{ temporal, ui, cloud, api string }

// freeAddrs picks four free loopback ports below the kernel's ephemeral range. The upgraded
// devstack binds them again after the old one let go; a port from the ephemeral range could be
// taken in between by any outgoing connection on the box (a test suite running beside this one).
func freeAddrs(t *testing.T) addrs {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 12000 {
				low = n
			}
		}
	}
	var a []string
	for port := 10000 + rand.IntN(low-12000); len(a) < 4 && port < low; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		a = append(a, l.Addr().String())
		_ = l.Close()
	}
	if len(a) < 4 {
		t.Fatalf("no four free loopback ports below %d", low)
	}
	return addrs{temporal: a[0], ui: a[1], cloud: a[2], api: a[3]}
}

// devstackProc is one devstack process on a data dir.
type devstackProc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	api    string // http://…
	cloud  string // http://…
	exited chan struct{}
}

// startDevstack runs bin on dataDir and waits for its ready line.
func startDevstack(t *testing.T, name, bin, dataDir string, at addrs) *devstackProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-dir", dataDir, "--temporal-addr", at.temporal, "--ui-addr", at.ui,
		"--cloud-addr", at.cloud, "--api-addr", at.api, "--seed", "1", "--log-level", "warn")
	// The API stays open on loopback and payloads are sealed with the data dir's key file: none of
	// the caller's RIMFLOW_ settings leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RIMFLOW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &devstackProc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	ready := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "rimflow ready:") {
				ready <- line
				continue
			}
			_, _ = fmt.Fprintln(logf, "stdout: "+line) // what it said before it exited
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { <-read; _ = cmd.Wait(); _ = logf.Close(); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "api="); ok {
				p.api = v
			}
			if v, ok := strings.CutPrefix(f, "cloud="); ok {
				p.cloud = v
			}
		}
		if p.api == "" || p.cloud == "" {
			t.Fatalf("%s: ready line without api= or cloud=: %q", name, line)
		}
	case <-p.exited:
		t.Fatalf("%s exited (%v) before it was ready:\n%s", name, cmd.ProcessState, p.tail())
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s not ready after 3 minutes:\n%s", name, p.tail())
	}
	return p
}

// stop ends the devstack as Ctrl-C does and waits for it to close its data dir.
func (p *devstackProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(90 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not stop within 90 s of Ctrl-C:\n%s", p.name, p.tail())
	}
}

func (p *devstackProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) <= 4000 {
		return string(b)
	}
	// A panic's or a fatal error's first lines say why; the goroutine dumps after them do not.
	head := ""
	for _, mark := range []string{"panic:", "fatal", "Failed"} {
		if i := strings.Index(string(b), mark); i >= 0 && i < len(b)-4000 {
			head = string(b[i:min(len(b)-4000, i+2000)]) + "\n…\n"
			break
		}
	}
	return head + string(b[len(b)-4000:])
}

// client calls one devstack's API and simulator; a 5xx or an unreachable server fails the test
// with the devstack's log tail.
type client struct {
	t   *testing.T
	ctx context.Context
	p   *devstackProc
}

// do sends body as JSON (nil = none) and decodes a 2xx answer into out; it returns the status.
func (c client) do(method, url string, body, out any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// The person the ERP vouches for: each approver is a different person, the rest is the submitter.
	actor := "u1"
	if a, ok := body.(workflows.ApproveRequest); ok {
		actor = a.Approver
	}
	req.Header.Set("X-Acting-User", actor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s log:\n%s", method, url, err, c.p.name, c.p.tail())
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %.300s", method, url, err, raw)
		}
	}
	return resp.StatusCode, raw
}

// must is do that fails the test on any answer but 2xx.
func (c client) must(method, url string, body, out any) {
	c.t.Helper()
	if status, raw := c.do(method, url, body, out); status/100 != 2 {
		c.t.Fatalf("%s %s: HTTP %d: %.500s", method, url, status, raw)
	}
}

func (c client) bill(id string) string { return c.p.api + "/v1/bills/OA/" + id }

func (c client) sim(path string) string { return c.p.cloud + path }

// waitFor polls cond every 200 ms for up to 90 s.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within 90 s; last %s", what, last)
}
