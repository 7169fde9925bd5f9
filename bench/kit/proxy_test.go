package kit

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineServer answers every line it reads with "ok <line>" and keeps what it read.
type lineServer struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	eofs  int // connections that ended
}

func newLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					s.mu.Lock()
					s.lines = append(s.lines, sc.Text())
					s.mu.Unlock()
					if _, err := io.WriteString(c, "ok "+sc.Text()+"\n"); err != nil {
						break
					}
				}
				s.mu.Lock()
				s.eofs++
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return s
}

func (s *lineServer) addr() string { return s.ln.Addr().String() }

func (s *lineServer) seen() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...), s.eofs
}

// within polls cond every 10 ms for up to d.
func within(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func dialProxy(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func writeLine(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func readLine(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read through the proxy: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestProxyPartitionHoldsThenDelivers(t *testing.T) {
	srv := newLineServer(t)
	p := newProxy(t, srv.addr())
	c, r := dialProxy(t, p)
	writeLine(t, c, "one\n")
	if got := readLine(t, c, r); got != "ok one" {
		t.Fatalf("before the partition: %q, want %q", got, "ok one")
	}

	p.Partition()
	writeLine(t, c, "two\n")
	if !within(2*time.Second, func() bool { return p.Held() == 4 }) {
		t.Fatalf("held %d bytes, want 4", p.Held())
	}
	time.Sleep(100 * time.Millisecond)
	if lines, _ := srv.seen(); len(lines) != 1 {
		t.Fatalf("the target got %v during the partition", lines)
	}
	p.Heal()
	if got := readLine(t, c, r); got != "ok two" {
		t.Fatalf("after the heal: %q, want %q", got, "ok two")
	}
	if p.Dropped() != 0 {
		t.Errorf("dropped %d bytes of a live connection", p.Dropped())
	}
}

func TestProxyDropsWhatADeadSenderSentDuringAPartition(t *testing.T) {
	srv := newLineServer(t)
	p := newProxy(t, srv.addr())
	c, r := dialProxy(t, p)
	writeLine(t, c, "first\n")
	readLine(t, c, r) // connected through
	p.Partition()
	writeLine(t, c, "lost\n")
	if !within(2*time.Second, func() bool { return p.Held() == 5 }) {
		t.Fatalf("held %d bytes, want 5", p.Held())
	}
	_ = c.Close() // the sender dies in the partition
	if !within(2*time.Second, func() bool { return p.Gone() == 1 }) {
		t.Fatalf("the proxy saw %d connection ends in the partition, want 1", p.Gone())
	}
	p.Heal()
	if !within(2*time.Second, func() bool { _, eofs := srv.seen(); return eofs == 1 }) {
		t.Fatal("the target's connection was not closed after the heal")
	}
	if lines, _ := srv.seen(); len(lines) != 1 || lines[0] != "first" {
		t.Errorf("the target got %v; want only what came before the partition", lines)
	}
	if p.Dropped() != 5 {
		t.Errorf("dropped %d bytes, want 5", p.Dropped())
	}
}

func TestProxyNewConnectionsGoToTheNewTarget(t *testing.T) {
	p := newProxy(t, "")
	c, r := dialProxy(t, p) // no target yet: closed at once
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a connection without a target answered")
	}
	a, b := newLineServer(t), newLineServer(t)
	p.SetTarget(a.addr())
	c, r = dialProxy(t, p)
	writeLine(t, c, "x\n")
	readLine(t, c, r)
	p.SetTarget(b.addr())
	c, r = dialProxy(t, p)
	writeLine(t, c, "y\n")
	readLine(t, c, r)
	if la, _ := a.seen(); len(la) != 1 || la[0] != "x" {
		t.Errorf("first target got %v, want [x]", la)
	}
	if lb, _ := b.seen(); len(lb) != 1 || lb[0] != "y" {
		t.Errorf("second target got %v, want [y]", lb)
	}
}
