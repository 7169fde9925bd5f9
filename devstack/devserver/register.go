package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ensureNamespace registers the namespace when the server does not know it (a fresh PostgreSQL:
// a SQLite file gets it written in before the server starts), as the compose file's setup job
// does, and waits until every service serves it.
func ensureNamespace(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	if err == nil || !errors.As(err, &notFound) {
		return err
	}
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %q: %w", namespace, err)
	}
	// The operator service reads namespaces from the server's cache, which picks a new one up
	// within its refresh interval (about ten seconds).
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %q registered but not served: %w", namespace, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ensureRetention sets the namespace's retention when it differs (a namespace created in the
// file starts with one day).
func ensureRetention(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %q: %w", namespace, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config: &namespacepb.NamespaceConfig{
			WorkflowExecutionRetentionTtl: durationpb.New(retention),
		},
	})
	if err != nil {
		return fmt.Errorf("set retention of namespace %q: %w", namespace, err)
	}
	return nil
}

// ensureSearchAttributes registers, through the operator service, every wanted search attribute
// the namespace lacks. One already registered with another type is an error: silently keeping
// it would make every upsert of that attribute fail later, far from the cause.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enumspb.IndexedValueType, logger *slog.Logger) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of %q: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var conflicts []string
	for name, typ := range want {
		got, ok := have.GetCustomAttributes()[name]
		if !ok {
			if sys, isSys := have.GetSystemAttributes()[name]; isSys {
				conflicts = append(conflicts, fmt.Sprintf("%s is a system attribute (%s)", name, sys))
				continue
			}
			missing[name] = typ
			continue
		}
		if got != typ {
			conflicts = append(conflicts, fmt.Sprintf("%s is %s, want %s", name, got, typ))
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return fmt.Errorf("search attributes of namespace %q conflict with rimflow's: %s", namespace, strings.Join(conflicts, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes %v to %q: %w", sortedNames(missing), namespace, err)
	}
	logger.Info("registered search attributes", "namespace", namespace, "names", sortedNames(missing))
	return waitSearchAttributesUsable(ctx, c, namespace, missing)
}

// waitSearchAttributesUsable waits until visibility accepts a query on the new attributes: the
// aliases live in the namespace record, which the server caches for a couple of seconds, and a
// bill upserting an attribute before that would fail its workflow task.
func waitSearchAttributesUsable(ctx context.Context, c client.Client, namespace string, added map[string]enumspb.IndexedValueType) error {
	var clauses []string
	for _, name := range sortedNames(added) {
		clauses = append(clauses, name+" = "+zeroLiteral(added[name]))
	}
	query := strings.Join(clauses, " AND ")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: namespace, Query: query,
		})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes %v not usable in %q: %w", sortedNames(added), namespace, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func zeroLiteral(t enumspb.IndexedValueType) string {
	switch t {
	case enumspb.INDEXED_VALUE_TYPE_BOOL:
		return "false"
	case enumspb.INDEXED_VALUE_TYPE_INT, enumspb.INDEXED_VALUE_TYPE_DOUBLE:
		return "0"
	case enumspb.INDEXED_VALUE_TYPE_DATETIME:
		return "'2000-01-01T00:00:00Z'"
	default:
		return "''"
	}
}

func sortedNames(m map[string]enumspb.IndexedValueType) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
