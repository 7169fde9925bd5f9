package workerapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"rimflow/internal/config"
	"rimflow/invoicecloud"
)

// Dial connects to Temporal as configured: TLS (mTLS files, private CA) and/or an API key.
// logger and metrics may be nil.
func Dial(ctx context.Context, cfg config.Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
	}
	if logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(logger)
	}
	if metrics != nil {
		opts.MetricsHandler = metrics
	}
	if cfg.Temporal.TLS() {
		tc, err := TLSConfig(cfg.Temporal)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if cfg.Temporal.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.Temporal.APIKey)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		// The address and namespace are not secret; the API key never reaches this message.
		return nil, fmt.Errorf("dial Temporal at %s (namespace %s): %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
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

// CloudClient builds the Invoice Cloud client from config; observe (metrics) may be nil.
func CloudClient(cfg config.Config, logger *slog.Logger, observe func(name, outcome string, took time.Duration)) (*invoicecloud.Client, error) {
	return invoicecloud.New(cfg.InvoiceCloud(logger, observe))
}
