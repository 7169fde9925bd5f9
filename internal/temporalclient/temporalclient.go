// Package temporalclient dials Temporal as configured (internal/config): plain, TLS with mTLS
// files or a private CA, and/or a Temporal Cloud API key; with the payload codec when configured.
// The worker, `starter serve` and the CLI all connect through Dial, which also proves the
// credentials on the namespace, so a refused certificate or key stops a program at start with an
// error that says which setting to check.
package temporalclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"

	"rimflow/internal/callheader"
	"rimflow/internal/config"
	"rimflow/internal/tracing"
)

// Dial connects to Temporal as configured. logger and metrics may be nil.
func Dial(ctx context.Context, t config.Temporal, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
	}
	if logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(logger)
	}
	if metrics != nil {
		opts.MetricsHandler = metrics
	}
	// Tracing's interceptor when it is on (tracing.Setup), none otherwise.
	ics, err := tracing.TemporalInterceptors()
	if err != nil {
		return nil, err
	}
	opts.Interceptors = ics
	if t.TLS() {
		tc, err := TLSConfig(t)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	// Payloads are sealed before they leave this process and opened when they come back; a
	// worker uses its client's converters, so the worker, the API and the CLI all seal alike.
	t.Codec.Apply(&opts)
	// The headers a call carries into its updates (the answer the API asks of a bill; with the
	// codec, its signature too), with or without the codec.
	callheader.Install(&opts)
	c, err := client.DialContext(ctx, opts)
	if err == nil {
		// The dial's own call (GetSystemInfo) is open to anyone; reading the namespace is the first
		// call that needs the credentials, and the first that needs the namespace to exist.
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.Namespace})
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		why := err.Error()
		if opts.ConnectionOptions.TLS != nil && connectionDropped(why) {
			if perr := probeTLS(t.Address, opts.ConnectionOptions.TLS); perr != nil {
				err = fmt.Errorf("%w (the server's TLS: %v)", err, perr)
				why += " " + perr.Error()
			}
		}
		// The address and namespace are not secret; the API key never reaches this message.
		return nil, fmt.Errorf("dial Temporal at %s (namespace %s): %w%s", t.Address, t.Namespace, err, hint(err, why, t))
	}
	return c, nil
}

// connectionDropped: the server closed the connection without saying why at the gRPC level.
func connectionDropped(msg string) bool {
	for _, s := range []string{"broken pipe", "connection reset", "EOF", "connection closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// probeTLS handshakes with the server as the client does and reads once. In TLS 1.3 the server
// judges the client's certificate after the client has finished its side, so the verdict (an
// alert such as "certificate required") arrives on the first read, where gRPC only sees the
// connection drop.
func probeTLS(addr string, base *tls.Config) error {
	tc := base.Clone()
	tc.NextProtos = []string{"h2"}
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(addr)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

// hint turns the usual ways a secured connection fails (err, described by msg) into the setting an
// operator should check.
func hint(err error, msg string, t config.Temporal) string {
	var denied *serviceerror.PermissionDenied
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound):
		return fmt.Sprintf(" (namespace %q does not exist on this server: check %s)", t.Namespace, config.EnvTemporalNamespace)
	case errors.As(err, &denied), serviceerror.ToStatus(err).Code() == codes.Unauthenticated:
		if t.APIKey != "" {
			return fmt.Sprintf(" (Temporal refused the API key for namespace %q: check %s)", t.Namespace, config.EnvTemporalAPIKey)
		}
		return fmt.Sprintf(" (Temporal wants credentials for namespace %q: set %s, or a client certificate it accepts)", t.Namespace, config.EnvTemporalAPIKey)
	case strings.Contains(msg, "certificate signed by unknown authority"), strings.Contains(msg, "x509: certificate is not valid"):
		return fmt.Sprintf(" (this client does not trust the server's certificate: set %s to the CA file that signed it)", config.EnvTemporalTLSCA)
	case strings.Contains(msg, "certificate required") && t.TLSCert == "":
		return fmt.Sprintf(" (the server requires a client certificate: set %s and %s)", config.EnvTemporalTLSCert, config.EnvTemporalTLSKey)
	// A client offers its certificate only when the server names its issuer among the CAs it
	// accepts; otherwise the server sees none at all.
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "unknown certificate authority"), strings.Contains(msg, "bad certificate"):
		return fmt.Sprintf(" (the server refused the client certificate in %s: it is not signed by a CA the server trusts)", config.EnvTemporalTLSCert)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return " (the server does not speak TLS: leave the RIMFLOW_TEMPORAL_TLS_* variables and the API key unset, or enable TLS on its frontend)"
	case !t.TLS() && (strings.Contains(msg, "server preface") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")):
		return fmt.Sprintf(" (if the server requires TLS, set %s, and %s/%s for mutual TLS)", config.EnvTemporalTLSCA, config.EnvTemporalTLSCert, config.EnvTemporalTLSKey)
	}
	return ""
}

// TLSConfig builds the client TLS configuration from the configured PEM files.
func TLSConfig(t config.Temporal) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: load key pair: %w", config.EnvTemporalTLSCert, config.EnvTemporalTLSKey, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if t.TLSCA != "" {
		pem, err := os.ReadFile(t.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvTemporalTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New(config.EnvTemporalTLSCA + ": no PEM certificate found in the file")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
