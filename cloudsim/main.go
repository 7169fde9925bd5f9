// Command cloudsim runs the Kingdee Invoice Cloud simulator on its own:
//
//	go run ./cloudsim -addr 127.0.0.1:8090 -seed 1
//
// It prints one line with its URL and the credentials the simulated ultimate tenant accepts, then
// one line per standard-edition tenant (-standard TAXNO=NAME, -tenants FILE) with its credentials.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"rimflow/cloudsim/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cloudsim:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (Ctrl-C), then closes sockets and held polls and shuts down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cloudsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr         = fs.String("addr", "127.0.0.1:8090", "listen address")
		seed         = fs.Int64("seed", 1, "seed for sample invoices, codes and fault draws")
		tokenTTL     = fs.Duration("token-ttl", simulator.DefaultTokenTTL, "life of app/access tokens")
		eventCodeTTL = fs.Duration("eventcode-ttl", simulator.DefaultEventCodeTTL, "life of an eventCode")
		pollHold     = fs.Duration("poll-hold", simulator.DefaultPollHold, "how long an empty long poll is held")
		oauthRate    = fs.Int("oauth2-rate", 0, "OAuth2 getToken calls allowed per client per minute (0 = unlimited; the vendor allows 30)")
		verbose      = fs.Bool("v", false, "log every request (paths only)")
		strict       = fs.Bool("strict", false, "enforce the strict reading of every ambiguous vendor rule (see docs/cloudsim.md)")
		receiptTO    = fs.Duration("receipt-timeout", simulator.DefaultReceiptTimeout, "how long a polled message waits for its receipt before it is delivered again [assumed]")
		idempotency  = fs.Bool("assume-idempotency", true, "[assumed] a repeated messageId/requestId answers the stored first answer")
		replacesSet  = fs.Bool("assume-billsave-replaces", true, "[assumed] billSave releases the bill's invoices it leaves out")
		redelivery   = fs.Bool("assume-poll-redelivery", true, "[assumed] an unreceipted polled message is delivered again after -receipt-timeout")
		pollKeyMD5   = fs.Bool("assume-poll-key-md5", true, "[assumed] the long poll's key is MD5(linkKey); false: the linkKey itself")
		hsWindow     = fs.Duration("handshake-window", simulator.DefaultHandshakeWindow, "a socket sending no heartbeat for this long is dropped [assumed]; negative: never")
		imageMax     = fs.Int("image-upload-max-bytes", simulator.DefaultImageUploadMaxBytes, "the files (decoded) one submitter-mode image task takes [assumed]")
		entryIDMax   = fs.Int("line-entryid-max", simulator.DefaultLimits.EntryIDLen, "billSave: a line's entryId, characters [assumed]; negative: unchecked")
		remarkMax    = fs.Int("line-remark-max", simulator.DefaultLimits.RemarkLen, "billSave: a line's or an attachment's remark, characters [assumed]; negative: unchecked")
		coverMax     = fs.Int("cover-max-bytes", simulator.DefaultLimits.CoverBytes, "billSave: the cover's file, decoded [assumed]; negative: unchecked")
		attachMax    = fs.Int("attachments-max", simulator.DefaultLimits.Attachments, "billSave: attachments on one bill [assumed]; negative: unchecked")
		attachURLMax = fs.Int("attach-url-max", simulator.DefaultLimits.AttachURLLen, "billSave: an attachment's attachUrl, characters [assumed]; negative: unchecked")
		attachNmMax  = fs.Int("attach-name-max", simulator.DefaultLimits.AttachNameLen, "billSave: an attachment's attachName, characters [assumed]; negative: unchecked")
		tenantsPath  = fs.String("tenants", "", `JSON file of standard-edition tenants {"standard":[{name, taxNo, clientId, clientSecret, encryptKey, push:[…], …}]}`)
		standard     standardFlag
		names        = namesFlag{}
	)
	fs.Var(&standard, "standard", "add a standard-edition tenant TAXNO=NAME with derived credentials (repeatable)")
	fs.Var(names, "name", "set an [assumed] path or name NAME=VALUE (repeatable): pollData, pollReceipt, unbind, voucherReverse, "+
		"scanPointsOperate, standard.deduction, standard.imagePush, standard.imageOperate, standard.viewPage, standard.voucherReverse")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var tenants []simulator.Tenant
	if *tenantsPath != "" {
		var err error
		if tenants, err = readTenants(*tenantsPath); err != nil {
			return err
		}
	}
	for _, spec := range standard {
		tenants = append(tenants, derivedTenant(*seed, spec))
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := simulator.Options{
		Seed: *seed, TokenTTL: *tokenTTL, EventCodeTTL: *eventCodeTTL, PollHold: *pollHold,
		OAuth2RatePerMinute: *oauthRate, Logger: logger, Tenants: tenants, Strict: *strict, ReceiptTimeout: *receiptTO,
		Assume: simulator.Assumptions{DisableIdempotentMessageID: !*idempotency,
			DisableBillSaveReplacesSet: !*replacesSet, DisablePollRedelivery: !*redelivery, DisablePollKeyMD5: !*pollKeyMD5},
		HandshakeWindow:     *hsWindow,
		ImageUploadMaxBytes: *imageMax,
		Limits: simulator.Limits{EntryIDLen: *entryIDMax, RemarkLen: *remarkMax, CoverBytes: *coverMax, Attachments: *attachMax,
			AttachURLLen: *attachURLMax, AttachNameLen: *attachNmMax},
	}
	if err := names.apply(&opts); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	sim := simulator.New(opts)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	c := sim.Options().Credentials
	// One line (a reader may take only the first): URL, the credentials — the vendor document's
	// public examples, the only ones accepted — and the mode.
	m := sim.Stats().Mode
	fmt.Fprintf(stdout, "cloudsim listening on http://%s  legacy: appId=%s appSecuret=%s tenantid=%s accountId=%s user=%s  oauth2: client_id=%s client_secret=%s username=%s  mode: strict=%t assume-idempotency=%t assume-billsave-replaces=%t assume-poll-redelivery=%t assume-poll-key-md5=%t receipt-timeout=%s handshake-window=%s\n",
		ln.Addr(), c.AppID, c.AppSecret, c.TenantID, c.AccountID, c.User, c.ClientID, c.ClientSecret, c.Username,
		m.Strict, m.IdempotentMessageID, m.BillSaveReplacesSet, m.PollRedelivery, m.PollKeyMD5, sim.Options().ReceiptTimeout,
		sim.Options().HandshakeWindow)
	for _, t := range tenants {
		// The operator needs them to configure rimflow's enterprise; they are this run's only.
		fmt.Fprintf(stdout, "standard tenant %q taxNo=%s client_id=%s client_secret=%s encrypt_key=%s push=%d\n",
			t.Name, t.TaxNo, t.ClientID, t.ClientSecret, t.EncryptKey, len(t.Push))
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Sockets are hijacked connections that Shutdown does not wait for: close them first.
	sim.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
