package harness

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud/ultimate"
)

// ServeHTTP serves h on addr ("127.0.0.1:0": a free loopback port) until the server is shut
// down; field names the address in errors. The stack's simulator and API, the bench's and the
// tests' simulators are all served this way.
func ServeHTTP(field, addr string, h http.Handler, log *slog.Logger) (srv *http.Server, url string, err error) {
	ln, err := listen(field, addr)
	if err != nil {
		return nil, "", err
	}
	return serve(ln, h, log), "http://" + ln.Addr().String(), nil
}

// Cloud is a simulator served over loopback HTTP and a client configured for it.
type Cloud struct {
	Sim    *simulator.Sim
	URL    string
	Client *ultimate.Client
	Config ultimate.Config // what Client was built from (the simulator's own credentials and paths)
}

// NewCloud serves a simulator with opts and builds a client with its credentials (legacy auth,
// token in the header); tune, when given, adjusts the client's config first. Both stop with the test.
func NewCloud(tb testing.TB, opts simulator.Options, tune func(*ultimate.Config)) *Cloud {
	tb.Helper()
	sim := simulator.New(opts)
	srv, url, err := ServeHTTP("cloud address", "127.0.0.1:0", sim.Handler(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx, srv)
	})
	creds, paths := sim.Options().Credentials, sim.Options().Paths
	cfg := ultimate.Config{
		BaseURL: url, AuthMode: ultimate.AuthLegacy, TokenPlacement: ultimate.TokenInHeader,
		AppID: creds.AppID, AppSecret: creds.AppSecret, TenantID: creds.TenantID, AccountID: creds.AccountID, User: creds.User,
		Paths:        ultimate.Paths{PollData: paths.PollData, PollReceipt: paths.PollReceipt},
		MessageTypes: ultimate.MessageTypes{Unbind: paths.UnbindMessageType, VoucherReverse: paths.VoucherReverseMessageType},
		// The simulator's reading of billSave, as a deployment configures its cloud's.
		BillSaveKeepsOmitted: !sim.Options().Assume.BillSaveReplacesSet(),
		PollKey:              PollKeyOf(sim.Options()),
		ScanPointsOperate:    paths.ScanPointsOperate,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := ultimate.New(cfg)
	if err != nil {
		tb.Fatalf("cloud client: %v", err)
	}
	return &Cloud{Sim: sim, URL: url, Client: c, Config: cfg}
}
