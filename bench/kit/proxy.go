package kit

import (
	"net"
	"sync"
)

// Proxy is a TCP proxy on a free loopback port with two uses: a stable address in front of a
// process that restarts on another port (SetTarget), and a network partition a test switches on
// and off (Partition, Heal) to hold a process right between two of its steps.
//
// While partitioned nothing crosses: new connections wait unconnected, and what either side
// sends is read and held. On Heal the held bytes are delivered, except those of a connection
// whose sender went away during the partition: like packets lost in a real partition, they never
// arrive, and the connection is closed on both sides.
type Proxy struct {
	ln net.Listener

	mu          sync.Mutex
	changed     *sync.Cond // broadcast on every change of the fields below and of a link's queues
	target      string
	partitioned bool
	closed      bool
	held        int64 // bytes clients sent during the current partition
	heldReplies int64 // bytes targets sent during it
	dropped     int64 // held bytes never delivered, their sender gone in a partition
	gone        int   // connection ends seen during the current partition (their held bytes will be dropped)
	sent        int64 // bytes clients sent since the proxy started, partitioned or not
	links       map[*link]bool
	wg          sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target (which SetTarget may set later).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]bool{}}
	p.changed = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget sends new connections to addr; open ones stay where they are.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Partition stops all traffic until Heal.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partitioned, p.held, p.heldReplies, p.gone = true, 0, 0, 0
	p.changed.Broadcast()
}

// Heal lets traffic through again (see Proxy for what is delivered).
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partitioned = false
	p.changed.Broadcast()
}

// Held is how many bytes clients sent (toward the target) during the current or last partition.
func (p *Proxy) Held() int64 { return locked(p, &p.held) }

// Sent is how many bytes clients have sent toward the target since the proxy started, whether
// held or not: a test sees from it that a request has reached the proxy.
func (p *Proxy) Sent() int64 { return locked(p, &p.sent) }

// HeldReplies is how many bytes targets sent (toward the clients) during the current or last
// partition.
func (p *Proxy) HeldReplies() int64 { return locked(p, &p.heldReplies) }

// Gone is how many connection ends (either side's) the proxy has seen during the current or last
// partition. A test that kills a process in a partition waits for it before Heal: until the proxy
// has read the end, what the process sent still counts as live and Heal would deliver it.
func (p *Proxy) Gone() int { return locked(p, &p.gone) }

// Dropped is how many held bytes were never delivered because their sender went away during a
// partition.
func (p *Proxy) Dropped() int64 { return locked(p, &p.dropped) }

// locked reads one of the proxy's counters under its lock.
func locked[T any](p *Proxy, v *T) T {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *v
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for l := range p.links {
		l.close()
	}
	p.changed.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// link is one client connection and its connection to the target.
type link struct {
	client, server net.Conn
	once           sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		_ = l.client.Close()
		if l.server != nil {
			_ = l.server.Close()
		}
	})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects one client to the target once no partition stands, and pumps both ways.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	l := &link{client: c}
	p.mu.Lock()
	for p.partitioned && !p.closed {
		p.changed.Wait()
	}
	target, closed := p.target, p.closed
	p.mu.Unlock()
	if closed || target == "" {
		l.close()
		return
	}
	s, err := net.Dial("tcp", target)
	if err != nil { // the target is down: the client sees its connection closed
		l.close()
		return
	}
	l.server = s
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = true
	p.mu.Unlock()
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(l, c, s, true) }()
	go func() { defer pumps.Done(); p.pump(l, s, c, false) }()
	pumps.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pump copies src to dst through a queue, so that during a partition src is still read (its end
// is seen) while nothing is written.
func (p *Proxy) pump(l *link, src, dst net.Conn, fromClient bool) {
	var q struct {
		chunks [][]byte
		ended  bool // src ended (EOF or error)
		lost   bool // src ended during a partition: what it sent is lost
	}
	go func() {
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			p.mu.Lock()
			if n > 0 {
				q.chunks = append(q.chunks, buf[:n])
				if fromClient {
					p.sent += int64(n)
				}
				switch {
				case p.partitioned && fromClient:
					p.held += int64(n)
				case p.partitioned:
					p.heldReplies += int64(n)
				}
			}
			if err != nil {
				q.ended, q.lost = true, p.partitioned
				if p.partitioned {
					p.gone++
				}
			}
			p.changed.Broadcast()
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for {
		p.mu.Lock()
		for !p.closed && (p.partitioned || (len(q.chunks) == 0 && !q.ended)) {
			p.changed.Wait()
		}
		if p.closed || q.lost {
			for _, c := range q.chunks {
				p.dropped += int64(len(c))
			}
			p.mu.Unlock()
			l.close()
			return
		}
		chunks, ended := q.chunks, q.ended
		q.chunks = nil
		p.mu.Unlock()
		for _, c := range chunks {
			if _, err := dst.Write(c); err != nil {
				l.close()
				return
			}
		}
		if ended {
			l.close()
			return
		}
	}
}
