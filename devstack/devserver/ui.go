package devserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// uiServer is Temporal Web (ui-server with its embedded assets) pointed at the frontend.
type uiServer struct {
	addr string
	srv  *uiserver.Server
	done chan error
}

// UICodec is Temporal Web's remote codec setting (ui-server's codec section).
type UICodec struct {
	// Endpoint is the codec server's base URL; Temporal Web posts to Endpoint+"/decode" and "/encode".
	Endpoint string
	// IncludeCredentials makes the browser send its cookies with those requests (a codec server
	// that signs people in with a session cookie needs it).
	IncludeCredentials bool
}

// startUI serves Temporal Web on host:port, resolved and checked by the caller: ui-server's
// Start ends the whole process (log.Fatal) when it cannot bind, so a busy port must be found first.
func startUI(host string, port int, frontendAddr, namespace string, codec UICodec, logger *slog.Logger) (*uiServer, error) {
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: frontendAddr,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// No login on a dev box; the listener is the only gate.
		Auth: uiconfig.Auth{Enabled: false},
		// The UI's own pages call its API on the same origin; the cookie must work over http.
		CORS:  uiconfig.CORS{CookieInsecure: true, AllowOrigins: []string{"http://" + net.JoinHostPort(host, strconv.Itoa(port))}},
		Codec: uiconfig.Codec{Endpoint: codec.Endpoint, IncludeCredentials: codec.IncludeCredentials},
		// Terminate skips the bill's saga (bound invoices stay bound at the cloud) and reset re-runs
		// cloud calls from an old point; batches do both to many bills. Ops use the API's cancel,
		// retry and resolve instead (docs/operations.md). These are Web's own switches: they hide
		// the actions, they do not authorize (the frontend must stay off users' networks).
		WorkflowTerminateDisabled: true,
		WorkflowResetDisabled:     true,
		BatchActionsDisabled:      true,
		DisableNewsFetch:          true,
		HideLogs:                  true,
		Distribution:              "rimflow-devstack",
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("temporal web config: %w", err)
	}
	u := &uiServer{
		addr: net.JoinHostPort(host, strconv.Itoa(port)),
		srv:  uiserver.NewServer(server_options.WithConfigProvider(cfg)),
		done: make(chan error, 1),
	}
	go func() { u.done <- u.srv.Start() }()
	if err := u.waitReady(10 * time.Second); err != nil {
		u.stop()
		return nil, err
	}
	logger.Debug("temporal web started", "addr", u.addr)
	return u, nil
}

// waitReady polls the health route: Start binds asynchronously.
func (u *uiServer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get("http://" + u.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case startErr := <-u.done:
			return fmt.Errorf("temporal web on %s stopped: %v", u.addr, startErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("temporal web on %s not ready: %w", u.addr, errors.Join(err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (u *uiServer) stop() {
	u.srv.Stop()
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
	}
}
