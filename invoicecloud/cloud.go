// Package invoicecloud is rimflow's client of Kingdee Invoice Cloud (金蝶发票云), edition-neutral:
// the requests and answers a bill exchanges with the cloud, the Cloud and ImageSystem a bill
// needs of its enterprise's edition, the one error type, and the Transport every edition's client
// shares (HTTP, token cache, error classification, socket and long-poll watch). Each edition is a
// package on top (invoicecloud/ultimate, invoicecloud/standard) that plugs in as an Edition;
// invoicecloud/editions lists them. docs/editions.md walks through adding one.
package invoicecloud

import "context"

// Cloud is what a bill needs of one enterprise's Invoice Cloud, whichever edition serves it: the
// ultimate edition (/kapi/app/rim/message) and the standard edition (/m4/fpzs/*) both provide it,
// so the activities and the workflow never know which one they talk to.
type Cloud interface {
	// GetEventCode opens the invoice assistant for a bill: it returns the single-sign-on code
	// (ultimate: the eventCode, valid 10 minutes) and the collect and view pages it opens.
	GetEventCode(ctx context.Context, messageID string, req EventCodeRequest) (EventCodeResponse, error)
	// BillSave binds the bill's invoice set with a status (30 in use, 60 used, 1 released).
	BillSave(ctx context.Context, messageID string, req BillSaveRequest) error
	// VoucherSave writes the accounting voucher back.
	VoucherSave(ctx context.Context, messageID string, req VoucherSaveRequest) error
	// VoucherReverse takes a booked voucher off its bills (反记账, [assumed] call): the invoices
	// stay bound and used (60), with no voucher.
	VoucherReverse(ctx context.Context, messageID string, req VoucherReverseRequest) error
	// Unbind releases every invoice of the bill (the compensation of binding).
	Unbind(ctx context.Context, messageID string, req UnbindRequest) error
	// Deduction selects invoices for input-VAT deduction.
	Deduction(ctx context.Context, requestID string, req DeductionRequest) (DeductionResult, error)
	// Watch receives what the user imports for linkKey (socket, or long poll) until ctx ends.
	Watch(ctx context.Context, linkKey string, opts WatchOptions, deliver func(Message) error) error
	// Receipt acknowledges a polled message.
	Receipt(ctx context.Context, linkKey, msgID string) error
	// CheckLogin fetches a fresh token: it tells whether the credentials work.
	CheckLogin(ctx context.Context) error
}

// SetReading is implemented by a client that knows how its cloud reads a billSave that leaves
// out invoices the bill holds: keeps them (true) or releases them (false, the reading assumed
// for a client that does not say). Removing one invoice is one call under either reading.
type SetReading interface {
	BillSaveKeepsOmitted() bool
}

// EnterpriseClient is one enterprise's client, whatever its edition: its cloud and its image
// system.
type EnterpriseClient interface {
	Cloud
	ImageSystem
}
