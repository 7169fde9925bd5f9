package invoicecloud

import (
	"crypto/sha256"
	"errors"
	"maps"
	"slices"
	"time"
)

// The cloud pushes again until it gets a success answer, with the same msgId and body: a push
// refused or unanswered for a while is retried past MaxAge. Such a retry is no replay by a third
// party when the receiver took that very push (same msgId, same body) while it was fresh, so
// it is let through (and answered as its first answer was); a body never seen still has to be fresh.

// ErrPushForNoBill is deliver's answer (wrapped) for a push no running bill can take: its bill
// has ended or is unknown. It can never be recorded, so Serve answers success (the cloud stops
// pushing it) and the caller keeps it aside for ops.
var ErrPushForNoBill = errors.New("no running bill takes this push")

// Defaults of PushReceiverConfig.SeenFor and MaxSeen.
const (
	DefaultPushSeenFor = 7 * 24 * time.Hour
	DefaultPushMaxSeen = 100_000
)

// seenPushes remembers the pushes taken (authentic and fresh), by msgId, with their body's digest.
type seenPushes struct {
	keep  time.Duration
	max   int
	by    map[string]seenPush
	order []string // msgIds, oldest first (for MaxSeen)
}

type seenPush struct {
	digest [sha256.Size]byte
	at     time.Time
}

func newSeenPushes(keep time.Duration, max int) seenPushes {
	if keep <= 0 {
		keep = DefaultPushSeenFor
	}
	if max <= 0 {
		max = DefaultPushMaxSeen
	}
	return seenPushes{keep: keep, max: max, by: map[string]seenPush{}}
}

// seenBefore: msgId was taken before with this very body (and is still remembered).
func (r *PushReceiver) seenBefore(msgID string, body []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.seen.by[msgID]
	return ok && p.digest == sha256.Sum256(body) && r.now().Sub(p.at) <= r.seen.keep
}

// see remembers a push taken (its first body only), forgetting the oldest beyond keep or max.
func (r *PushReceiver) see(msgID string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen.by[msgID]; ok {
		return
	}
	now := r.now()
	r.seen.by[msgID] = seenPush{digest: sha256.Sum256(body), at: now}
	r.seen.order = append(r.seen.order, msgID)
	for len(r.seen.order) > 0 {
		oldest := r.seen.order[0]
		if len(r.seen.order) <= r.seen.max && now.Sub(r.seen.by[oldest].at) <= r.seen.keep {
			break
		}
		delete(r.seen.by, oldest)
		delete(r.acked, oldest)
		r.seen.order = r.seen.order[1:]
	}
}

// Remember carries what old saw and acknowledged over to r (a registry reload builds a new
// receiver: the cloud's retries must still be known).
func (r *PushReceiver) Remember(old *PushReceiver) {
	if old == nil || old == r {
		return
	}
	old.mu.Lock()
	order := slices.Clone(old.seen.order)
	seen := make([]seenPush, len(order))
	for i, id := range order {
		seen[i] = old.seen.by[id]
	}
	acked := maps.Clone(old.acked)
	old.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, id := range order {
		if _, ok := r.seen.by[id]; !ok {
			r.seen.by[id] = seen[i]
			r.seen.order = append(r.seen.order, id)
		}
	}
	maps.Copy(r.acked, acked)
}
