package workflows

import (
	"net/url"

	"go.temporal.io/sdk/workflow"
)

// VoucherClaimWorkflowName is the workflow type of a voucher's claim: the API starts one per
// vouchId before it sends a bill its voucher, with the ID VoucherClaimID and a conflict policy that
// refuses a second start while it runs. Temporal's workflow-ID uniqueness is the lock, the same for
// every API process, so a vouchId is never booked on two bills (the cloud would mix their vouchers).
const VoucherClaimWorkflowName = "VoucherClaim"

// VoucherClaimMemoBill is the memo field naming the bill (its workflow ID) that holds the claim.
const VoucherClaimMemoBill = "bill"

// SignalReleaseVoucher ends a claim: the voucher it reserved was not saved, the vouchId is free.
const SignalReleaseVoucher = "release"

// VoucherClaimID is the claim's workflow ID: the voucher's source system and its id (escaped as a
// bill key is, so ':' cannot make two claims one).
func VoucherClaimID(resource, vouchID string) string {
	return "voucher:" + url.PathEscape(resource) + ":" + url.PathEscape(vouchID)
}

// VoucherClaimWorkflow holds its vouchId until released: it only waits (no timer, no activity), so
// a claim costs a closed-looking open workflow and nothing else.
func VoucherClaimWorkflow(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, SignalReleaseVoucher).Receive(ctx, nil)
	return nil
}
