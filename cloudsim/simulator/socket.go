package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one thing the writer sends: a queued delivery or a heartbeat answer.
type frame struct {
	delivery *delivery
	text     []byte
}

// socketConn is one msgwatch connection.
type socketConn struct {
	ws   *websocket.Conn
	hash string // MD5(linkKey)
	out  chan frame
	done chan struct{}
	once sync.Once
}

// drop closes the connection abruptly, like a network failure (no close frame).
func (c *socketConn) drop() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

var upgrader = websocket.Upgrader{
	// The vendor's demo opens the socket from the ERP's own page: any origin is accepted.
	CheckOrigin: func(*http.Request) bool { return true },
}

const socketWriteTimeout = 10 * time.Second

// handleSocket serves /msgwatch/?identifytype={linkKey}&token={access_token}.
func (s *Sim) handleSocket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	linkKey := strings.TrimSpace(q.Get("identifytype"))
	tok := q.Get("token")
	if tok == "" {
		tok = q.Get("access_token")
	}
	s.mu.Lock()
	problem := s.tokenProblem(tok, receivingTokenKinds...)
	closed := s.closed
	if problem != "" {
		s.stats.TokenRejections++
	}
	s.mu.Unlock()
	switch {
	case closed:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errorCode": codeServiceFault, "message": "simulator closed"})
		return
	case problem != "":
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errorCode": codeTokenInvalid, "message": strings.Replace(problem, "access_token", "token", 1)})
		return
	case linkKey == "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorCode": codeBadParam, "message": "identifytype: 必填 (the linkKey of getEventCode)"})
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &socketConn{ws: ws, hash: LinkKeyHash(linkKey), out: make(chan frame, 16), done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.drop()
		return
	}
	s.sockets[c] = struct{}{}
	s.stats.SocketsAccepted++
	lq := s.queue(c.hash)
	lq.sockets = append(lq.sockets, c)
	if s.faults.DropSockets {
		after := time.Duration(s.faults.DropAfterMs) * time.Millisecond
		time.AfterFunc(after, func() {
			s.mu.Lock()
			_, live := s.sockets[c]
			if live {
				s.stats.SocketsDropped++
			}
			s.mu.Unlock()
			c.drop()
		})
	}
	s.dispatch(lq)
	s.mu.Unlock()

	go s.socketWriter(c)
	s.socketReader(c)
}

// socketReader answers heartbeats until the connection ends, then detaches it.
func (s *Sim) socketReader(c *socketConn) {
	defer func() {
		c.drop()
		s.mu.Lock()
		s.detach(c)
		s.mu.Unlock()
	}()
	// A socket that stops sending its heartbeat is dropped after HandshakeWindow [assumed]: only a
	// heartbeat renews the deadline, not other text. Wall-clock time: the socket's deadline is
	// the network's, not the simulator clock's.
	window := s.opts.HandshakeWindow
	renew := func() {
		if window > 0 {
			_ = c.ws.SetReadDeadline(time.Now().Add(window))
		}
	}
	renew()
	for {
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				s.mu.Lock()
				if _, live := s.sockets[c]; live {
					s.stats.SocketsSilent++
				}
				s.mu.Unlock()
			}
			return
		}
		if kind != websocket.TextMessage {
			continue
		}
		var hb struct {
			Handshake *bool `json:"handshake"`
		}
		if json.Unmarshal(msg, &hb) != nil || hb.Handshake == nil {
			continue // the cloud ignores anything but the heartbeat
		}
		renew()
		s.mu.Lock()
		s.stats.Handshakes++
		s.mu.Unlock()
		select {
		case c.out <- frame{text: []byte(`{"handshake":true}`)}:
		case <-c.done:
			return
		}
	}
}

// socketWriter writes frames; a delivery whose write fails goes back to the front of the queue.
func (s *Sim) socketWriter(c *socketConn) {
	for {
		select {
		case <-c.done:
			return
		case f := <-c.out:
			body := f.text
			if f.delivery != nil {
				var err error
				if body, err = f.delivery.socketPayload(); err != nil {
					body = []byte(`{"invoiceData":[],"attachData":[]}`)
				}
			}
			if f.delivery != nil {
				// Counted before the write so a reader that has the message also sees the count.
				s.mu.Lock()
				s.stats.DeliveredBySocket++
				s.queue(c.hash).delivered++
				s.mu.Unlock()
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(socketWriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, body); err != nil {
				s.mu.Lock()
				s.detach(c)
				if f.delivery != nil {
					s.stats.DeliveredBySocket--
					s.queue(c.hash).delivered--
					s.requeueFront(c.hash, f.delivery)
				}
				s.mu.Unlock()
				c.drop()
				return
			}
			if f.delivery != nil && s.opts.OnSocketDelivery != nil {
				s.opts.OnSocketDelivery(c.hash, f.delivery.msgID)
			}
		}
	}
}

// detach forgets a socket and puts back what it had not written yet; caller holds s.mu. Idempotent.
func (s *Sim) detach(c *socketConn) {
	if _, ok := s.sockets[c]; !ok {
		return
	}
	delete(s.sockets, c)
	q := s.queue(c.hash)
	q.sockets = slices.DeleteFunc(q.sockets, func(o *socketConn) bool { return o == c })
	var back []*delivery
	for {
		select {
		case f := <-c.out:
			if f.delivery != nil {
				back = append(back, f.delivery)
			}
			continue
		default:
		}
		break
	}
	if len(back) > 0 {
		q.pending = append(back, q.pending...)
		s.dispatch(q)
		q.wake()
	}
}
