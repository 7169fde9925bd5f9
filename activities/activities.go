// Package activities holds every remote call of the bill workflow: one method per call on one
// struct holding the enterprise registry — each call goes to the cloud of the bill's enterprise,
// found by the tax number its input routes by (calls.Routed) — and a Temporal client (deliveries, the deduction hand-off).
// The worker registers the struct, so an activity's name is its method's name; the workflows call
// them through method values (a.BindInvoices), so the compiler checks every call. Their payloads
// are in the leaf package calls, which both sides import.
package activities

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"rimflow/activities/calls"
	"rimflow/internal/enterprises"
	"rimflow/internal/metrics"
	"rimflow/internal/voice"
	"rimflow/internal/webhooks"
	"rimflow/invoicecloud"
)

// Defaults of the Activities settings.
const (
	DefaultEventCodeTTL     = 10 * time.Minute
	DefaultWatchGrace       = 2 * time.Minute
	DefaultHeartbeatEvery   = 10 * time.Second
	DefaultDeliveryPatience = 2 * time.Minute
	DefaultEnterpriseGrace  = 5 * time.Minute
)

// Activities is registered on the worker. Zero settings take the defaults above.
type Activities struct {
	// Enterprises routes each call to the cloud of the bill's enterprise (by billTaxNo).
	Enterprises Enterprises
	Temporal    client.Client // for EnqueueDeduction (signal-with-start of the batch workflow)
	// Webhooks are where the bills' events go (nil: nowhere).
	Webhooks *webhooks.Registry
	// Registered reaches the webhooks registered through the API and their journal (nil: none).
	Registered *webhooks.Store
	// Metrics counts watchers and webhook deliveries (nil: not exported).
	Metrics *metrics.Worker

	// EventCodeTTL is how long an eventCode lives in the cloud (10 min in the vendor doc).
	EventCodeTTL time.Duration
	// WatchGrace is how long a watcher keeps listening after its eventCode's pages die: a user who
	// clicked 「导入单据」 just before may still be delivered to.
	WatchGrace time.Duration
	// HeartbeatEvery is how often the watcher records its state for a heartbeat. The SDK sends at
	// most one heartbeat per 0.8 x the workflow's WatchHeartbeatTimeout, and each is a server write.
	HeartbeatEvery time.Duration
	// DeliveryPatience is how long a watcher keeps trying to signal a message it has read before it
	// gives up (Temporal unreachable that long).
	DeliveryPatience time.Duration
	// EnterpriseGrace is how long a step whose enterprise the registry lost (a reload without it,
	// by mistake or half-written) is retried before it fails for good naming the enterprise.
	// Zero: DefaultEnterpriseGrace; negative: it fails at once.
	EnterpriseGrace time.Duration
	// Watch tunes the client's watcher (socket, then long poll after silence).
	Watch invoicecloud.WatchOptions
	// Voice signs the updates the worker sends bills for other workflows (UpdateBill), with the
	// keys the API signs with (nil: unsigned, so a bill takes them as the ops path).
	Voice *voice.Keys
	// Hub, when set, holds the watchers: WatchInvoices hands its link over and returns pending
	// (hub.go). Without one a watcher runs inside its activity (a test environment).
	Hub *Hub

	// DeductionBatchSize, DeductionInterval and DeductionContinueAfter configure batch workflows
	// started by EnqueueDeduction (zero = the batch workflow's own defaults).
	DeductionBatchSize int
	DeductionInterval  time.Duration
	// DeductionContinueAfter is how many adds and batches a batch workflow run takes before it
	// continues as new.
	DeductionContinueAfter int
}

// Enterprises finds a bill's enterprise by its tax number (enterprises.Registry).
type Enterprises interface {
	Lookup(taxNo string) (*enterprises.Enterprise, error)
}

// enterprise is the enterprise of the bill in is for, by the tax number the input routes by: every
// activity that calls the cloud finds its enterprise here. A tax number the registry lost is
// retried while it has been gone less than EnterpriseGrace (a reload that briefly lost it must not
// park the bills), then fails the step for good naming billTaxNo: put it back, then retry the bill.
func (a *Activities) enterprise(in calls.Routed) (*enterprises.Enterprise, error) {
	e, err := a.Enterprises.Lookup(in.RoutingTaxNo())
	if err == nil {
		return e, nil
	}
	grace := a.EnterpriseGrace
	if grace == 0 {
		grace = DefaultEnterpriseGrace
	}
	var unknown *enterprises.UnknownError
	if errors.As(err, &unknown) && time.Since(unknown.Since) < grace {
		return nil, temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%v: retried while it is back within %s", err, grace), "UnknownEnterprise",
			temporal.ApplicationErrorOptions{Details: []any{map[string]string{"field": "billTaxNo"}}})
	}
	if grace > 0 {
		err = fmt.Errorf("%w (not in the registry for %s)", err, grace)
	}
	return nil, temporal.NewNonRetryableApplicationError(err.Error(), "UnknownEnterprise", nil, map[string]string{"field": "billTaxNo"})
}
