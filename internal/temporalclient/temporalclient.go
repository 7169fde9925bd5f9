// Package temporalclient dials Temporal as configured (internal/config): plain, TLS with mTLS
// files or a private CA, and/or a Temporal Cloud API key; with the payload codec when configured. The worker, `starter serve` and the CLI
// all connect through Dial.
package temporalclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"rimflow/internal/config"
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
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		// The address and namespace are not secret; the API key never reaches this message.
		return nil, fmt.Errorf("dial Temporal at %s (namespace %s): %w", t.Address, t.Namespace, err)
	}
	return c, nil
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
