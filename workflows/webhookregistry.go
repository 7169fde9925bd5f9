package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/internal/webhooks"
)

// WebhookRegistryWorkflow holds the webhooks the ERP's clients register through the API and each
// resource's event journal (internal/webhooks keeps the rules; docs/webhooks.md). One runs per
// namespace (webhooks.RegistryWorkflowID), started by the first registration; it never ends, and
// carries its state across continue-as-new. It calls nothing: updates change the state, queries
// read it, so the API and the worker keep nothing of their own.
func WebhookRegistryWorkflow(ctx workflow.Context, st webhooks.RegistryState) error {
	handled := 0
	if err := workflow.SetUpdateHandlerWithOptions(ctx, webhooks.UpdateRegister,
		func(ctx workflow.Context, r webhooks.Registration) (webhooks.RegisterResult, error) {
			handled++
			return st.Upsert(r, workflow.Now(ctx)), nil
		}, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, r webhooks.Registration) error {
				if bad := webhooks.CheckRegistration(r); len(bad) > 0 {
					return invalidRegistration(bad)
				}
				return nil
			},
			Description: "Register or replace a client's webhook for a resource (secret by reference only).",
		}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, webhooks.UpdateRemove,
		func(ctx workflow.Context, r webhooks.RemoveRequest) (bool, error) {
			handled++
			return st.Remove(r.Client, r.Resource), nil
		}, workflow.UpdateHandlerOptions{Description: "Remove a client's webhook for a resource (its journal stays)."}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, webhooks.UpdateJournal,
		func(ctx workflow.Context, r webhooks.JournalRequest) (int64, error) {
			handled++
			return st.Append(r, workflow.Now(ctx)), nil
		}, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, r webhooks.JournalRequest) error {
				if r.Resource == "" || r.ID == "" || len(r.Event) == 0 {
					return errors.New("a journaled event needs its resource, id and event")
				}
				return nil
			},
			Description: "Journal a bill's event before its delivery: answers its sequence in the resource (the same again for a retry).",
		}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, webhooks.QueryRegistrations, func() ([]webhooks.Registration, error) {
		return slices.Clone(st.Registrations), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, webhooks.QueryEvents, func(q webhooks.EventsQuery) (webhooks.EventsPage, error) {
		return st.Page(q), nil
	}); err != nil {
		return err
	}
	// Continue as new before the history grows heavy: every event is an update.
	_ = workflow.Await(ctx, func() bool {
		return handled >= webhookRegistryContinueAfter || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	})
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return workflow.NewContinueAsNewError(ctx, WebhookRegistryWorkflow, st)
}

// webhookRegistryContinueAfter: updates a run takes before it continues as new.
const webhookRegistryContinueAfter = 2000

// ErrTypeWebhookInvalid types a registration the registry refused; its details are the fields.
const ErrTypeWebhookInvalid = "WebhookInvalid"

func invalidRegistration(bad map[string]string) error {
	names := slices.Sorted(maps.Keys(bad)) //workflowcheck:ignore sorted: the order is the keys', not the map's
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + bad[k]
	}
	return temporal.NewApplicationError(fmt.Sprintf("invalid webhook: %s", strings.Join(parts, "; ")), ErrTypeWebhookInvalid, bad)
}
