package simulator

import "slices"

// A devstack restart rebuilds the simulator by replaying its journal of requests
// (devstack/harness). An import's message is queued again by the replay, though a socket took it
// before the restart, and the next watcher would be handed it a second time: the cloud would
// not. Who took what off a socket is not a request, so the journal records it apart
// (Options.OnSocketDelivery) and the replay hands it over again here.

// HandedOver marks the message msgID of the queue queueHash as taken by a socket: it leaves the
// queue (a poll will not see it). False when the queue holds no such message.
func (s *Sim) HandedOver(queueHash, msgID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[queueHash]
	if !ok {
		return false
	}
	i := slices.IndexFunc(q.pending, func(d *delivery) bool { return d.msgID == msgID })
	if i < 0 {
		return false
	}
	q.pending = slices.Delete(q.pending, i, i+1)
	q.consumed = true
	q.delivered++
	s.stats.DeliveredBySocket++
	return true
}

// SettleSocketQueues hands over every message still queued for a socket (not a poll-only
// linkKey), as if a socket had taken it, and answers how many. It is for a journal written before
// socket hand-overs were journaled: the devstack's watchers run beside its simulator, so what a
// socket was offered before the stop it took.
func (s *Sim) SettleSocketQueues() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queues {
		if q.pollOnly || len(q.pending) == 0 {
			continue
		}
		n += len(q.pending)
		q.delivered += len(q.pending)
		s.stats.DeliveredBySocket += len(q.pending)
		q.pending = nil
		q.consumed = true
	}
	return n
}
