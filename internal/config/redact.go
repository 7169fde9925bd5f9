package config

import (
	"fmt"
	"log/slog"
	"net/url"
)

const redacted = "[redacted]"

// secret shows only whether a secret is set.
func secret(v string) string {
	if v == "" {
		return ""
	}
	return redacted
}

// redactURL drops user info and the query string, where tokens travel.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// String is a one-line summary with every secret redacted; safe to log.
func (c Config) String() string {
	return fmt.Sprintf("temporal=%s namespace=%s taskQueue=%s tls=%t apiKey=%s cloud=%s auth=%s token=%s appId=%s appSecret=%s tenant=%s account=%s user=%s clientId=%s clientSecret=%s username=%s unbind=%s poll=%s receipt=%s log=%s metrics=%q",
		c.Temporal.Address, c.Temporal.Namespace, c.Temporal.TaskQueue, c.Temporal.TLS(), secret(c.Temporal.APIKey),
		redactURL(c.Cloud.BaseURL), c.Cloud.AuthMode, c.Cloud.TokenPlacement, c.Cloud.AppID, secret(c.Cloud.AppSecret),
		c.Cloud.TenantID, c.Cloud.AccountID, c.Cloud.User, c.Cloud.ClientID, secret(c.Cloud.ClientSecret), c.Cloud.Username,
		c.Cloud.UnbindMessageType, c.Cloud.PollPath, c.Cloud.ReceiptPath, c.LogLevel, c.MetricsAddr)
}

// GoString keeps %#v from printing secrets too.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print the redacted view.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Group("temporal",
			slog.String("address", c.Temporal.Address),
			slog.String("namespace", c.Temporal.Namespace),
			slog.String("taskQueue", c.Temporal.TaskQueue),
			slog.Bool("tls", c.Temporal.TLS()),
			slog.String("apiKey", secret(c.Temporal.APIKey)),
		),
		slog.Group("cloud",
			slog.String("baseURL", redactURL(c.Cloud.BaseURL)),
			slog.String("authMode", string(c.Cloud.AuthMode)),
			slog.String("tokenPlacement", string(c.Cloud.TokenPlacement)),
			slog.String("appId", c.Cloud.AppID),
			slog.String("appSecret", secret(c.Cloud.AppSecret)),
			slog.String("tenantId", c.Cloud.TenantID),
			slog.String("accountId", c.Cloud.AccountID),
			slog.String("user", c.Cloud.User),
			slog.String("clientId", c.Cloud.ClientID),
			slog.String("clientSecret", secret(c.Cloud.ClientSecret)),
			slog.String("username", c.Cloud.Username),
			slog.String("unbindMessageType", c.Cloud.UnbindMessageType),
			slog.String("pollPath", c.Cloud.PollPath),
			slog.String("receiptPath", c.Cloud.ReceiptPath),
		),
		slog.String("logLevel", c.LogLevel.String()),
		slog.String("metricsAddr", c.MetricsAddr),
	)
}
