package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
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

// attrs is the redacted view of the loaded parts, one group per part; String and LogValue both
// print it, so a secret is redacted in one place.
func (c Config) attrs() []slog.Attr {
	var out []slog.Attr
	if c.loaded&PartTemporal != 0 {
		out = append(out, slog.Group("temporal",
			slog.String("address", c.Temporal.Address),
			slog.String("namespace", c.Temporal.Namespace),
			slog.String("taskQueue", c.Temporal.TaskQueue),
			slog.Bool("tls", c.Temporal.TLS()),
			slog.String("apiKey", secret(c.Temporal.APIKey)),
		))
	}
	if c.loaded&PartCloud != 0 {
		out = append(out, slog.Group("cloud",
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
			slog.String("unbindMessageType", c.Cloud.MessageTypes.Unbind),
			slog.String("voucherReverseMessageType", c.Cloud.MessageTypes.VoucherReverse),
			slog.String("pollPath", c.Cloud.Paths.PollData),
			slog.String("receiptPath", c.Cloud.Paths.PollReceipt),
		))
	}
	if c.EnterprisesFile != "" {
		// Names and tax numbers only: the file's secrets are references, resolved but never shown.
		list := make([]any, 0, len(c.Enterprises))
		for _, e := range c.Enterprises {
			list = append(list, slog.String(e.TaxNo, e.Edition()+" "+e.Name))
		}
		out = append(out, slog.Group("enterprises", append([]any{slog.String("file", c.EnterprisesFile)}, list...)...))
	}
	if c.loaded&PartWorker != 0 {
		out = append(out, slog.Group("worker",
			slog.String("metricsAddr", c.Worker.MetricsAddr),
			slog.Int("workflowCacheSize", c.Worker.WorkflowCacheSize),
		))
	}
	if c.loaded&(PartAPI|PartAccess) != 0 {
		clients := "open"
		if !c.API.Clients.Open() {
			clients = strings.Join(c.API.Clients.Names(), ",")
		}
		out = append(out, slog.Group("api",
			slog.String("addr", c.API.Addr),
			slog.String("opsAddr", c.API.OpsAddr),
			slog.String("clients", clients),
			slog.String("token", secret(c.API.Token)),
			slog.Duration("requestTimeout", c.API.RequestTimeout),
			slog.Duration("reissueMargin", c.API.ReissueMargin),
			slog.String("codecOrigins", strings.Join(c.API.CodecOrigins, ",")),
		))
	}
	if c.loaded&PartCodec != 0 {
		// Key IDs are not secret; the keys are never shown.
		keys := ""
		if c.Codec.Keys != nil {
			keys = strings.Join(c.Codec.Keys.IDs(), ",")
		}
		out = append(out, slog.Group("payloadEncryption",
			slog.Bool("on", c.Codec.Encrypt),
			slog.String("keyIds", keys),
		))
	}
	if c.loaded&PartLog != 0 {
		out = append(out, slog.String("logLevel", c.LogLevel.String()))
	}
	if c.loaded&PartTracing != 0 { // on or off only: the endpoint and its headers may carry credentials
		out = append(out, slog.Bool("tracing", c.Tracing))
	}
	return out
}

// String is a one-line summary of the loaded parts with every secret redacted; safe to log.
func (c Config) String() string {
	var b strings.Builder
	var write func(prefix string, attrs []slog.Attr)
	write = func(prefix string, attrs []slog.Attr) {
		for _, a := range attrs {
			if a.Value.Kind() == slog.KindGroup {
				write(prefix+a.Key+".", a.Value.Group())
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s%s=%s", prefix, a.Key, a.Value)
		}
	}
	write("", c.attrs())
	return b.String()
}

// GoString keeps %#v from printing secrets too.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print the redacted view.
func (c Config) LogValue() slog.Value { return slog.GroupValue(c.attrs()...) }
