// Package access says who is calling and what they may do: the API's (and the codec server's)
// clients, each with its own bearer token, the operations it may use and the resources (source
// systems, the bill's `resource`) it may act on. Tokens are kept only as SHA-256 hashes and compared
// in constant time; no token ever appears in an error or a log line.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Operations a client may be granted. approve:<role> grants one approval role; approve:* every role.
const (
	OpStart       = "start"        // POST /v1/bills (and the collect URL it answers)
	OpRead        = "read"         // state, list, collect-url
	OpInvoices    = "invoices"     // forward a delivery from the ERP's browser socket or a push
	OpSubmit      = "submit"       // submit a bill for approval
	OpApprove     = "approve"      // prefix: approve:<role> (approve, reject or return for that role)
	OpImages      = "images"       // the scanning station's "scanned" message
	OpVoucher     = "voucher"      // write the voucher back
	OpCancel      = "cancel"       // cancel a bill (runs the compensation)
	OpRetry       = "retry"        // re-run a failed step
	OpResolve     = "resolve"      // ops: settle a bill that needs a person (e.g. a conflicting delivery)
	OpCodecDecode = "codec:decode" // the codec server's /decode: read every bill's payloads
	OpCodecEncode = "codec:encode" // the codec server's /encode: Temporal Web encodes signal input with it
	OpMetrics     = "metrics"      // the API's GET /metrics when it has no ops listener (the scraper)
	OpWebhooks    = "webhooks"     // its own webhooks (register, test, list, remove) and the resource's event journal (replay): it hears every bill event of its resources
	OpAdmin       = "admin"        // every operation
)

// plainOperations are the operations without a parameter.
var plainOperations = []string{OpStart, OpRead, OpInvoices, OpSubmit, OpImages, OpVoucher, OpCancel,
	OpRetry, OpResolve, OpCodecDecode, OpCodecEncode, OpMetrics, OpWebhooks, OpAdmin}

// Operations lists the operation vocabulary for documentation: the plain operations, then the
// parameterised forms.
func Operations() []string {
	return append(slices.Clone(plainOperations), Approve("<role>"), Approve("*"))
}

// AllResources in a client's resources lets it act on every resource.
const AllResources = "*"

// Approve is the operation that decides for one approval role ("approve:finance").
func Approve(role string) string { return OpApprove + ":" + role }

// validOperation reports why op is not an operation ("" when it is).
func validOperation(op string) string {
	if slices.Contains(plainOperations, op) {
		return ""
	}
	if role, ok := strings.CutPrefix(op, OpApprove+":"); ok {
		if role == "" || strings.ContainsAny(role, " \t:/") {
			return fmt.Sprintf("%q: approve:<role> needs a role without spaces, ':' or '/'", op)
		}
		return ""
	}
	return fmt.Sprintf("unknown operation %q (known: %s, approve:<role>, approve:*)", op, strings.Join(plainOperations, ", "))
}

// Client is one configured caller. Its token is known only by its hash.
type Client struct {
	Name       string
	Operations []string // as configured, roles expanded, sorted
	Resources  []string // "*" or the resources it may act on, sorted
	tokenHash  [sha256.Size]byte
}

// AllResourcesAllowed reports whether the client may act on every resource (list queries need not be narrowed).
func (c *Client) AllResourcesAllowed() bool { return slices.Contains(c.Resources, AllResources) }

// Allowed answers whether the client may use op on resource, and why not. resource "" is for
// operations that concern no single bill (a list, the codec server): only the operation is checked,
// and the caller narrows what it shows with Resources.
func (c *Client) Allowed(op, resource string) (bool, string) {
	if c == nil {
		return false, "no authenticated client"
	}
	if op == OpApprove {
		// "some approval role": what the approvals route checks before it reads the body (and
		// the role in it), so a client that may approve nothing there learns nothing of the bill.
		if !c.grantsAnyApproval() {
			return false, fmt.Sprintf("client %q may not use %q for any role", c.Name, Approve("<role>"))
		}
	} else if why := validOperation(op); why != "" {
		return false, why
	} else if !c.grants(op) {
		return false, fmt.Sprintf("client %q may not use %q", c.Name, op)
	}
	if isCodec(op) && !c.AllResourcesAllowed() {
		return false, fmt.Sprintf("client %q may not use %q: %s", c.Name, op, codecReason)
	}
	if op == OpMetrics && !c.AllResourcesAllowed() {
		return false, fmt.Sprintf("client %q may not use %q: %s", c.Name, op, metricsReason)
	}
	if resource != "" && !c.AllResourcesAllowed() && !slices.Contains(c.Resources, resource) {
		return false, fmt.Sprintf("client %q may not act on resource %q", c.Name, resource)
	}
	return true, ""
}

// Payloads carry no resource the codec server could check, so its use is all-or-nothing.
const codecReason = "a payload names no resource, so decoding can show any bill"

// The metrics count every resource's bills and name every enterprise, so their use is
// all-or-nothing too.
const metricsReason = "the metrics count every resource's bills"

func isCodec(op string) bool { return op == OpCodecDecode || op == OpCodecEncode }

// grantsAnyApproval: the client may decide for at least one approval role.
func (c *Client) grantsAnyApproval() bool {
	return slices.ContainsFunc(c.Operations, func(op string) bool {
		return op == OpAdmin || strings.HasPrefix(op, OpApprove+":")
	})
}

func (c *Client) grants(op string) bool {
	if slices.Contains(c.Operations, OpAdmin) || slices.Contains(c.Operations, op) {
		return true
	}
	return strings.HasPrefix(op, OpApprove+":") && slices.Contains(c.Operations, Approve("*"))
}

// Clients is the configured set; empty means the API is open (allowed only on loopback, see
// CheckListen).
type Clients struct {
	list []*Client
}

// Open reports whether no client is configured.
func (cs *Clients) Open() bool { return cs == nil || len(cs.list) == 0 }

// Names lists the clients' names in configuration order (for a startup line; never tokens).
func (cs *Clients) Names() []string {
	if cs == nil {
		return nil
	}
	names := make([]string, len(cs.list))
	for i, c := range cs.list {
		names[i] = c.Name
	}
	return names
}

// ByName finds a configured client (the codec server's sessions name their client).
func (cs *Clients) ByName(name string) (*Client, bool) {
	if cs == nil {
		return nil, false
	}
	for _, c := range cs.list {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// ErrUnauthenticated is a missing, malformed or unknown bearer token; it never says which.
var ErrUnauthenticated = errors.New("missing or wrong bearer token")

// Authenticate finds the client whose token this is. Every client's hash is compared (no early
// exit), so the time taken does not tell how many clients there are before the match.
func (cs *Clients) Authenticate(token string) (*Client, error) {
	token = strings.TrimSpace(token)
	if cs == nil || token == "" {
		return nil, ErrUnauthenticated
	}
	given := sha256.Sum256([]byte(token))
	var found *Client
	for _, c := range cs.list {
		if subtle.ConstantTimeCompare(given[:], c.tokenHash[:]) == 1 {
			found = c
		}
	}
	if found == nil {
		return nil, ErrUnauthenticated
	}
	return found, nil
}

// AuthenticateRequest reads "Authorization: Bearer <token>".
func (cs *Clients) AuthenticateRequest(r *http.Request) (*Client, error) {
	token, ok := BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return nil, ErrUnauthenticated
	}
	return cs.Authenticate(token)
}

// BearerToken extracts the token of an Authorization header value ("Bearer <token>", scheme in any case).
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// HashToken is the form a clients file stores a token in: "sha256:<64 hex digits>".
func HashToken(token string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hashPrefix + hex.EncodeToString(h[:])
}

type ctxKey struct{}

// WithClient records the authenticated client for the handlers of one request.
func WithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// ClientFrom is the client WithClient recorded, if any.
func ClientFrom(ctx context.Context) (*Client, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Client)
	return c, ok && c != nil
}
