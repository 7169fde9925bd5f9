package simulator

import "maps"

// Stats counts what the simulator saw; GET /__sim/stats answers it as JSON.
type Stats struct {
	// Endpoints counts requests by path (product endpoints only, not /__sim/).
	Endpoints map[string]int `json:"endpoints"`
	// MessageTypes counts /kapi/app/rim/message calls by messageType (replays included),
	// and deduction calls under "deduction".
	MessageTypes map[string]int `json:"messageTypes"`
	TokensIssued TokenCounts    `json:"tokensIssued"`
	AuthFailures int            `json:"authFailures"`
	// TokenRejections counts business/socket/poll calls refused for a bad or expired token.
	TokenRejections int `json:"tokenRejections"`
	// Replays counts calls answered from the idempotency store (same messageId/requestId).
	Replays          int `json:"replays"`
	EventCodesIssued int `json:"eventCodesIssued"`
	// Collections counts imports (page or /__sim/collect) that queued at least one invoice.
	Collections       int `json:"collections"`
	InvoicesCollected int `json:"invoicesCollected"`
	InvoicesRefused   int `json:"invoicesRefused"`
	MessagesQueued    int `json:"messagesQueued"` // pending right now, all linkKeys
	DeliveredBySocket int `json:"deliveredBySocket"`
	DeliveredByPoll   int `json:"deliveredByPoll"`
	// RedeliveredByPoll counts polled messages handed again to a poll for want of a receipt.
	RedeliveredByPoll int `json:"redeliveredByPoll"`
	// ImportsRefused counts imports (page or /__sim/collect) refused whole: strict mode, linkKey consumed.
	ImportsRefused  int `json:"importsRefused"`
	SocketsAccepted int `json:"socketsAccepted"`
	SocketsOpen     int `json:"socketsOpen"`
	SocketsDropped  int `json:"socketsDropped"` // by the dropSockets fault
	// SocketsSilent counts sockets dropped for sending no heartbeat within HandshakeWindow.
	SocketsSilent     int `json:"socketsSilent"`
	Handshakes        int `json:"handshakes"`
	Polls             int `json:"polls"`
	PollsEmpty        int `json:"pollsEmpty"`
	Receipts          int `json:"receipts"`
	ReceiptsHeld      int `json:"receiptsHeld"` // waiting right now under the holdReceipts fault
	FaultsInjected    int `json:"faultsInjected"`
	BillSaveApplied   int `json:"billSaveApplied"`
	VouchersSaved     int `json:"vouchersSaved"`
	BillsDeleted      int `json:"billsDeleted"`
	VouchersReversed  int `json:"vouchersReversed"` // voucher reversals (反记账 [assumed]) that took a voucher off
	DeductionSelected int `json:"deductionSelected"`
	DeductionUndone   int `json:"deductionUndone"`
	PoolSize          int `json:"poolSize"`
	// Calls counts billSave/voucherSave/billDelete/deduction calls by outcome (see BillCalls).
	Calls BillCalls `json:"calls"`
	// Mode is the reading the simulator runs with.
	Mode Mode `json:"mode"`

	// StandardCalls counts standard-edition business calls by name (getUserKey, entrySave, …,
	// erpBillPush and queryBillStatus of both editions).
	StandardCalls   map[string]int `json:"standardCalls"`
	PushesQueued    int            `json:"pushesQueued"`    // pushes created (one per import and push address)
	PushAttempts    int            `json:"pushAttempts"`    // POSTs made
	PushFailures    int            `json:"pushFailures"`    // POSTs not answered with success
	PushesDelivered int            `json:"pushesDelivered"` // pushes answered with success
	ScanTasks       int            `json:"scanTasks"`       // erpBillPush calls that created a task
	Scans           int            `json:"scans"`           // scans by the scanning post
	// ImageSystemEndpoints counts requests to the image system's own address (ImageSystemPrefix)
	// by path below it: with Endpoints, which counts both addresses, it tells where the calls went.
	ImageSystemEndpoints map[string]int `json:"imageSystemEndpoints"`
	// ImagePushesReceived counts the pushes the image system accepted (repeats included).
	ImagePushesReceived int `json:"imagePushesReceived"`
}

// Mode reports Options.Strict, the [assumed] behaviours in force and the receipt timeout.
type Mode struct {
	Strict              bool  `json:"strict"`
	IdempotentMessageID bool  `json:"idempotentMessageId"`
	BillSaveReplacesSet bool  `json:"billSaveReplacesSet"`
	PollRedelivery      bool  `json:"pollRedelivery"`
	ReceiptTimeoutMs    int64 `json:"receiptTimeoutMs"`
	PollKeyMD5          bool  `json:"pollKeyMd5"`
	HandshakeWindowMs   int64 `json:"handshakeWindowMs"` // negative: silent sockets are kept
}

// TokenCounts counts issued tokens by kind.
type TokenCounts struct {
	App    int `json:"app"`
	Access int `json:"access"`
	OAuth2 int `json:"oauth2"`
	// Standard counts /base/oauth/token access tokens.
	Standard int `json:"standard"`
}

func newStats() Stats {
	return Stats{Endpoints: map[string]int{}, MessageTypes: map[string]int{}, StandardCalls: map[string]int{}, ImageSystemEndpoints: map[string]int{}}
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Endpoints = maps.Clone(s.stats.Endpoints)
	st.ImageSystemEndpoints = maps.Clone(s.stats.ImageSystemEndpoints)
	st.MessageTypes = maps.Clone(s.stats.MessageTypes)
	st.StandardCalls = maps.Clone(s.stats.StandardCalls)
	st.SocketsOpen = len(s.sockets)
	st.MessagesQueued = 0
	for _, q := range s.queues {
		st.MessagesQueued += len(q.pending)
	}
	st.PoolSize = len(s.pool)
	a := s.opts.Assume
	st.Mode = Mode{Strict: s.opts.Strict, IdempotentMessageID: a.IdempotentMessageID(), BillSaveReplacesSet: a.BillSaveReplacesSet(),
		PollRedelivery: a.PollRedelivery(), ReceiptTimeoutMs: s.opts.ReceiptTimeout.Milliseconds(),
		PollKeyMD5: a.PollKeyMD5(), HandshakeWindowMs: s.opts.HandshakeWindow.Milliseconds()}
	return st
}
