package harness

import (
	"context"
	"fmt"

	"rimflow/devstack/devserver"
	"rimflow/workflows"
)

// StartTemporal starts the embedded Temporal server (devserver) with rimflow's search
// attributes: the devstack's (with Temporal Web) and the bench's (without).
func StartTemporal(ctx context.Context, opts devserver.Options) (*devserver.Server, error) {
	opts.SearchAttributes = workflows.SearchAttributes()
	srv, err := devserver.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	return srv, nil
}
