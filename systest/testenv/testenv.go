// Package testenv builds the in-process pieces rimflow's system tests share: a Temporal test server
// with rimflow's search attributes, the Invoice Cloud simulator on a loopback HTTP server with a
// real client using its credentials, and plain HTTP calls as an ERP, a user or ops make them. Only
// tests import it: it links the Temporal server.
package testenv

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud/ultimate"
	"rimflow/workflows"
)

// RegisterSearchAttributes registers workflows.SearchAttributes() in the namespace.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: workflows.SearchAttributes(),
	}); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	return nil
}

// NewServer starts a Temporal test server with rimflow's search attributes; it stops with the test.
func NewServer(tb *testing.T) *temporaltest.TestServer {
	tb.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(tb))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := RegisterSearchAttributes(ctx, ts.GetDefaultClient(), ts.GetDefaultNamespace()); err != nil {
		tb.Fatal(err)
	}
	return ts
}

// Cloud is a simulator served over loopback HTTP and a client configured for it.
type Cloud struct {
	Sim    *simulator.Sim
	URL    string
	Client *ultimate.Client
	Config ultimate.Config // what Client was built from (the simulator's own credentials and paths)
}

// NewCloud serves a simulator with opts and builds a client with its credentials (legacy auth,
// token in the header); tune, when given, adjusts the client's config first.
func NewCloud(tb testing.TB, opts simulator.Options, tune func(*ultimate.Config)) *Cloud {
	tb.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim.Handler())
	tb.Cleanup(srv.Close)
	creds, paths := sim.Options().Credentials, sim.Options().Paths
	cfg := ultimate.Config{
		BaseURL: srv.URL, AuthMode: ultimate.AuthLegacy, TokenPlacement: ultimate.TokenInHeader,
		AppID: creds.AppID, AppSecret: creds.AppSecret, TenantID: creds.TenantID, AccountID: creds.AccountID, User: creds.User,
		Paths:        ultimate.Paths{PollData: paths.PollData, PollReceipt: paths.PollReceipt},
		MessageTypes: ultimate.MessageTypes{Unbind: paths.UnbindMessageType},
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := ultimate.New(cfg)
	if err != nil {
		tb.Fatalf("cloud client: %v", err)
	}
	return &Cloud{Sim: sim, URL: srv.URL, Client: c, Config: cfg}
}
