package invoicecloud

import (
	"log/slog"
	"net/http"
	"time"
)

// Edition plugs one product of Invoice Cloud into rimflow: the ultimate edition (旗舰版), the
// standard edition (标准版), or one to come. Each edition's package declares one; the package
// invoicecloud/editions registers them by name. The enterprises file carries one block per
// enterprise, named after its edition and read by it; nothing else in rimflow knows the editions
// apart (docs/editions.md).
type Edition struct {
	// Name is the key of the edition's block in the enterprises file ("ultimate"), and what the
	// registry shows.
	Name string
	// NewBlock returns an empty settings block: a pointer to a struct whose yaml-tagged fields are
	// the keys an enterprise's block of this edition may carry. The file is decoded into it key by
	// key; a key it does not have is refused, named.
	NewBlock func() Block
}

// Block is an enterprise's settings block of one edition, decoded from the enterprises file.
type Block interface {
	// Settings checks the block and resolves its secrets. Every problem is reported with r.Bad,
	// naming the block's key; the result is not used when any was.
	Settings(r BlockReader) Settings
}

// BlockReader is what the enterprises file gives an edition to read one enterprise's block.
type BlockReader struct {
	// TaxNo (normalized) and Name are the enterprise's.
	TaxNo, Name string
	// Push says the cloud pushes the enterprise's invoices, sealed with its encrypt_key.
	Push bool
	// Env are the settings RIMFLOW_CLOUD_* describe (nil when none): what every enterprise of the
	// file shares (the transport's timeouts; for an enterprise of the same edition, its [assumed]
	// names and paths too).
	Env Settings
	// Secret resolves a secret reference (env:NAME or file:PATH) given for field; a bad one is
	// reported and "" returned. Secrets are never inline.
	Secret func(field, ref string) string
	// Bad reports a problem with field.
	Bad func(field, format string, args ...any)
	// Judge reports the client's verdict on the settings (nil, or an *Error naming its field),
	// unless the block has a problem already: that one is the cause.
	Judge func(err error)
}

// Settings are one enterprise's settings of an edition, secrets resolved: what the registry
// shows and shares of them, and how it builds the enterprise's client.
type Settings interface {
	// Edition is the edition's name (Edition.Name).
	Edition() string
	// Describe is what may be shown of the settings: nothing secret.
	Describe() Description
	// PushCredentials are the client id and encrypt_key that seal the enterprise's pushed
	// invoices ("" when it has none).
	PushCredentials() (clientID, encryptKey string)
	// TokenEndpoint identifies the credentials (the registry limits the calls to their token
	// endpoint together, whichever enterprise makes them) and the paths that fetch a token.
	TokenEndpoint() (credentials string, paths []string)
	// Timeouts are the transport's settings, which the enterprises of a file share from Env.
	Timeouts() Timeouts
	// NewClient builds the enterprise's client; a bad setting is an *Error naming its field.
	NewClient(o ClientOptions) (EnterpriseClient, error)
}

// Description is what the registry shows of an enterprise's settings.
type Description struct {
	BaseURL  string
	AuthMode string // how the client authenticates (ultimate: legacy | oauth2; standard: signed)
	// OrgNumber is the accounting organisation a bill without its own is sent with ("": none).
	OrgNumber string
}

// Timeouts are the transport's durations (zero: the defaults).
type Timeouts struct {
	Timeout, PollHold, RefreshBefore time.Duration
}

// ClientOptions are what the registry gives every enterprise's client.
type ClientOptions struct {
	Logger *slog.Logger
	// Observe sees every remote call of the client (TransportConfig.Observe).
	Observe func(name, outcome string, took time.Duration)
	// Transport carries the client's HTTP calls (the registry's, limiting the token endpoint).
	Transport http.RoundTripper
}
