package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// APIOptions describe an HTTP API process: `starter serve`.
type APIOptions struct {
	Path string   // the built ./starter
	Addr string   // its listen address (default 127.0.0.1:0: a free loopback port)
	Env  []string // its whole environment (Env.APIEnv)
	// Stdout receives the process's stdout (its ready line first); nil discards it.
	Stdout io.Writer
	// Stderr receives the process's stderr (its logs); nil discards it.
	Stderr io.Writer
}

// API is a running API process.
type API struct {
	*Process
	URL string // http://host:port, from its ready line
}

// StartAPI starts `starter serve` and waits (at most a minute) for the ready line it prints once
// it listens, {"listening": URL, …}.
func StartAPI(ctx context.Context, opts APIOptions) (*API, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ready := &readyLine{found: make(chan string, 1), rest: opts.Stdout}
	cmd := exec.Command(opts.Path, "serve", "--addr", addr)
	cmd.Env = opts.Env
	cmd.Stdout = ready
	cmd.Stderr = opts.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	p, err := StartProcess("API", cmd)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	select {
	case url := <-ready.found:
		if url == "" {
			_ = p.Kill()
			return nil, fmt.Errorf("the API's ready line names no URL: %s", ready.head())
		}
		return &API{Process: p, URL: url}, nil
	case <-p.done:
		return nil, fmt.Errorf("the API exited before it was ready: %v", p.err)
	case <-ctx.Done():
		_ = p.Kill()
		return nil, fmt.Errorf("the API printed no ready line: %w", ctx.Err())
	}
}

// readyLine passes the API's stdout on and reports the URL of the first JSON value in it (the
// ready line; printed indented, so it may span lines).
type readyLine struct {
	found chan string
	rest  io.Writer

	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (r *readyLine) Write(b []byte) (int, error) {
	r.mu.Lock()
	if !r.done {
		r.buf.Write(b)
		var v struct {
			Listening string `json:"listening"`
		}
		if dec := json.NewDecoder(bytes.NewReader(r.buf.Bytes())); dec.Decode(&v) == nil {
			r.done = true
			r.found <- v.Listening
		}
	}
	r.mu.Unlock()
	if r.rest != nil {
		return r.rest.Write(b)
	}
	return len(b), nil
}

func (r *readyLine) head() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf.Bytes()[:min(r.buf.Len(), 300)])
}
