package enterprises

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"golang.org/x/time/rate"

	"rimflow/invoicecloud"
)

// Enterprise is one registered enterprise with its clients.
type Enterprise struct {
	Spec
	Cloud  invoicecloud.Cloud
	Images invoicecloud.ImageSystem
}

// Label names the enterprise in a reason or a log line: "上海示例有限公司 (91310000MA1FL0001R)".
func (e *Enterprise) Label() string {
	if e.TaxNo == AnyTaxNo {
		return "the enterprise of RIMFLOW_CLOUD_*"
	}
	return fmt.Sprintf("enterprise %s (%s)", e.Name, e.TaxNo)
}

// Options are what the registry's clients share.
type Options struct {
	Logger *slog.Logger
	// Observe, when set, sees every cloud call of every enterprise, with its tax number (metrics
	// per enterprise).
	Observe func(taxNo, name, outcome string, took time.Duration)
	// Transport is the clients' base transport (nil: a pooled clone of http.DefaultTransport).
	Transport http.RoundTripper
	// PushMaxAge is the push receiver's MaxAge (0: invoicecloud.DefaultPushMaxAge).
	PushMaxAge time.Duration
}

// UnknownError is a tax number no registered enterprise has.
type UnknownError struct {
	TaxNo string
	// Since is when the registry last had it (a reload dropped it then), or when the registry was
	// built if it never had it: a step may wait a while for a reload that lost it by mistake.
	Since time.Time
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("billTaxNo: %q is not an enterprise of the registry", e.TaxNo)
}

// Registry routes a bill to its enterprise by tax number. A Replace (a reload) keeps the clients of
// unchanged enterprises, with their tokens; it is safe for concurrent use.
type Registry struct {
	opts Options
	base http.RoundTripper

	mu       sync.RWMutex
	byTaxNo  map[string]*Enterprise
	order    []string
	limiters map[string]*rate.Limiter // by credentials: the token endpoint's limit is the tenant's
	prints   map[string]string        // tax number → fingerprint of what built its clients
	push     *invoicecloud.PushReceiver
	built    time.Time            // when the registry was built (UnknownError.Since of a tax number never known)
	lost     map[string]time.Time // tax number → when a reload dropped it (until one adds it back)
}

// New builds the registry's clients; a spec the client refuses is named.
func New(specs []Spec, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	base := opts.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // many bills talk to one host at once
		base = t
	}
	r := &Registry{opts: opts, base: base, byTaxNo: map[string]*Enterprise{}, limiters: map[string]*rate.Limiter{}, prints: map[string]string{},
		built: time.Now(), lost: map[string]time.Time{}}
	if _, err := r.Replace(specs); err != nil {
		return nil, err
	}
	return r, nil
}

// Change is what a Replace did, by tax number.
type Change struct {
	Added, Changed, Removed, Kept []string
}

func (c Change) String() string {
	return fmt.Sprintf("added %v, changed %v, removed %v, kept %d", c.Added, c.Changed, c.Removed, len(c.Kept))
}

// Replace makes specs the registry. Enterprises whose settings did not change keep their clients
// (and tokens); nothing changes when any spec is refused.
func (r *Registry) Replace(specs []Spec) (Change, error) {
	r.mu.RLock()
	old, oldPrints := r.byTaxNo, r.prints
	r.mu.RUnlock()

	next := make(map[string]*Enterprise, len(specs))
	prints := make(map[string]string, len(specs))
	order := make([]string, 0, len(specs))
	var ch Change
	var pushers []invoicecloud.PushEnterprise
	for i, s := range specs {
		fp := s.fingerprint()
		prints[s.TaxNo] = fp
		order = append(order, s.TaxNo)
		if s.Push != nil {
			pushers = append(pushers, *s.Push)
		}
		if e, ok := old[s.TaxNo]; ok && oldPrints[s.TaxNo] == fp {
			next[s.TaxNo] = e
			ch.Kept = append(ch.Kept, s.TaxNo)
			continue
		}
		e, err := r.build(s)
		if err != nil {
			return Change{}, fmt.Errorf("enterprises[%d] (%s): %w", i, s.TaxNo, err)
		}
		next[s.TaxNo] = e
		if _, ok := old[s.TaxNo]; ok {
			ch.Changed = append(ch.Changed, s.TaxNo)
		} else {
			ch.Added = append(ch.Added, s.TaxNo)
		}
	}
	for tax := range old {
		if _, ok := next[tax]; !ok {
			ch.Removed = append(ch.Removed, tax)
		}
	}
	slices.Sort(ch.Removed)
	push, err := invoicecloud.NewPushReceiver(invoicecloud.PushReceiverConfig{Enterprises: pushers, MaxAge: r.opts.PushMaxAge})
	if err != nil {
		return Change{}, err
	}
	r.mu.Lock()
	push.Remember(r.push) // the cloud's retries of what the last one took are still known
	r.byTaxNo, r.prints, r.order, r.push = next, prints, order, push
	r.noteLost(ch)
	r.mu.Unlock()
	return ch, nil
}

// build makes an enterprise's clients: its own token cache, its own metrics label, and the token
// endpoint limited per set of credentials.
func (r *Registry) build(s Spec) (*Enterprise, error) {
	per := s.TokenCallsPerMinute
	if per == 0 {
		per = DefaultTokenCallsPerMinute
	}
	var observe func(name, outcome string, took time.Duration)
	if r.opts.Observe != nil {
		tax := s.TaxNo
		observe = func(name, outcome string, took time.Duration) { r.opts.Observe(tax, name, outcome, took) }
	}
	if s.Settings == nil {
		return nil, errors.New("edition: no client settings")
	}
	credentials, tokenPaths := s.Settings.TokenEndpoint()
	cl, err := s.Settings.NewClient(invoicecloud.ClientOptions{Logger: r.opts.Logger.With("enterprise", s.TaxNo),
		Observe: observe, Transport: r.limited(credentials, per, tokenPaths)})
	if err != nil {
		return nil, err
	}
	e := &Enterprise{Spec: s, Cloud: cl, Images: cl}
	if err := s.checkPush(); err != nil {
		return nil, fmt.Errorf("%s: %s", fieldOf(err), messageOf(err))
	}
	if s.Image != nil {
		if e.Images, err = r.imageSystem(s, per, observe); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// ImageCheckTimeout bounds the registry's look at an enterprise's image system when it loads.
const ImageCheckTimeout = 20 * time.Second

// imageSystem builds the client of the enterprise's image system at its own address — the
// edition's client with the same credentials (客户端编码、口令), its own token — and checks it: the
// image system must accept the enterprise's client (the vendor refuses an authorization whose
// client ID does not exist) and list the enterprise's scanning point (获取影像扫描点). A definite
// refusal refuses the enterprise, naming the field; an image system that cannot be reached is
// logged and the enterprise loads (its scan tasks retry), so one image system's outage never stops
// every enterprise's worker.
func (r *Registry) imageSystem(s Spec, per int, observe func(string, string, time.Duration)) (invoicecloud.ImageSystem, error) {
	rb, ok := s.Settings.(invoicecloud.Rebaser)
	if !ok {
		return nil, fmt.Errorf("imageSystem.baseURL: the %s edition's client cannot reach an image system at an address of its own", s.Edition())
	}
	settings := rb.Rebased(s.Image.BaseURL)
	credentials, tokenPaths := settings.TokenEndpoint()
	ic, err := settings.NewClient(invoicecloud.ClientOptions{Logger: r.opts.Logger.With("enterprise", s.TaxNo, "part", "image system"),
		Observe: observe, Transport: r.limited(credentials, per, tokenPaths)})
	if err != nil {
		return nil, fmt.Errorf("imageSystem.%s: %s", fieldOf(err), messageOf(err))
	}
	lister, ok := ic.(invoicecloud.ScanPointLister)
	if !ok {
		return ic, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ImageCheckTimeout)
	defer cancel()
	// The check is no bill's: it is a trace of its own, so its call's log line has a trace id too.
	ctx, span := otel.Tracer("rimflow/enterprises").Start(ctx, "enterprise image system check")
	defer span.End()
	points, err := lister.ScanPoints(ctx, "rimflow:scanpoints:"+s.TaxNo)
	var ce *invoicecloud.Error
	switch {
	case err != nil && errors.As(err, &ce) && !ce.Retryable && ce.MessageType == "auth":
		return nil, fmt.Errorf("imageSystem.clientId: the image system at %s does not accept the enterprise's client: %s", s.Image.BaseURL, invoicecloud.Redact(err.Error()))
	case err != nil && errors.As(err, &ce) && !ce.Retryable:
		return nil, fmt.Errorf("imageSystem.baseURL: the image system at %s refuses to list its scanning points: %s", s.Image.BaseURL, invoicecloud.Redact(err.Error()))
	case err != nil:
		r.opts.Logger.Warn("image system not reachable: its client and scanning point are checked at the next load",
			"enterprise", s.TaxNo, "imageBaseURL", s.Image.BaseURL, "err", invoicecloud.Redact(err.Error()))
		return ic, nil
	}
	if s.ScanPoint != "" && !slices.ContainsFunc(points, func(p invoicecloud.ScanPoint) bool { return p.ID == s.ScanPoint }) {
		ids := make([]string, len(points))
		for i, p := range points {
			ids[i] = p.ID
		}
		return nil, fmt.Errorf("scanPoint: %q is not a scanning point of the image system at %s (it lists %v)", s.ScanPoint, s.Image.BaseURL, ids)
	}
	return ic, nil
}

func (r *Registry) limited(key string, perMinute int, tokenPaths []string) http.RoundTripper {
	r.mu.Lock()
	lim, ok := r.limiters[key]
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)
		r.limiters[key] = lim
	}
	r.mu.Unlock()
	return &tokenLimiter{base: r.base, lim: lim, paths: tokenPaths}
}

// tokenLimiter waits for the limiter before a request to a token endpoint: a burst of bills never
// makes the cloud refuse an enterprise's logins.
type tokenLimiter struct {
	base  http.RoundTripper
	lim   *rate.Limiter
	paths []string
}

func (t *tokenLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, p := range t.paths {
		if p != "" && strings.HasSuffix(req.URL.Path, p) {
			if err := t.lim.Wait(req.Context()); err != nil {
				return nil, err
			}
			break
		}
	}
	return t.base.RoundTrip(req)
}

// Lookup is the enterprise of taxNo (the registry of one answers every tax number).
func (r *Registry) Lookup(taxNo string) (*Enterprise, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.byTaxNo[invoicecloud.NormalizeTaxNo(taxNo)]; ok {
		return e, nil
	}
	if e, ok := r.byTaxNo[AnyTaxNo]; ok {
		return e, nil
	}
	since, ok := r.lost[invoicecloud.NormalizeTaxNo(taxNo)]
	if !ok {
		since = r.built
	}
	return nil, &UnknownError{TaxNo: taxNo, Since: since}
}

// noteLost remembers when a reload dropped an enterprise and forgets one it adds back (r.mu held).
func (r *Registry) noteLost(ch Change) {
	now := time.Now()
	for _, tax := range ch.Removed {
		r.lost[tax] = now
	}
	for _, tax := range ch.Added {
		delete(r.lost, tax)
	}
}

// Known reports whether a bill of taxNo can be routed.
func (r *Registry) Known(taxNo string) bool {
	_, err := r.Lookup(taxNo)
	return err == nil
}

// List describes the enterprises, in the file's order, without secrets.
func (r *Registry) List() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Info, 0, len(r.order))
	for _, tax := range r.order {
		out = append(out, r.byTaxNo[tax].Info())
	}
	return out
}

// All returns the enterprises, in the file's order.
func (r *Registry) All() []*Enterprise {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Enterprise, 0, len(r.order))
	for _, tax := range r.order {
		out = append(out, r.byTaxNo[tax])
	}
	return out
}

// Pushes is the receiver of the enterprises that push their invoices.
func (r *Registry) Pushes() *invoicecloud.PushReceiver {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.push
}

// Watch reloads the registry from load on every signal of hup and whenever the file at path
// changes from what it is now (looked at every `every`), in the background until ctx ends. A file
// that does not load leaves the registry as it was (logged); a bill whose enterprise stays keeps
// working.
func (r *Registry) Watch(ctx context.Context, path string, load func() ([]Spec, error), hup <-chan os.Signal, every time.Duration) {
	sum := func() [32]byte {
		b, _ := os.ReadFile(path)
		return sha256.Sum256(b)
	}
	last := sum()
	tick := time.NewTicker(every)
	reload := func(why string) {
		specs, err := load()
		if err == nil {
			var ch Change
			if ch, err = r.Replace(specs); err == nil {
				r.opts.Logger.Info("enterprise registry reloaded", "why", why, "change", ch.String())
				return
			}
		}
		r.opts.Logger.Error("enterprise registry not reloaded: the previous one stays", "why", why, "err", err)
	}
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				last = sum()
				reload("SIGHUP")
			case <-tick.C:
				if now := sum(); now != last {
					last = now
					reload("file changed")
				}
			}
		}
	}()
}

// Single is the registry of one around a client already built (tests, the devstack's default
// tenant): it serves every tax number. A client that tells its settings (Settings()) is shown
// with them.
func Single(cloud invoicecloud.EnterpriseClient) *Registry {
	spec := Spec{TaxNo: AnyTaxNo, Name: "RIMFLOW_CLOUD_*"}
	if c, ok := cloud.(interface{ Settings() invoicecloud.Settings }); ok {
		spec.Settings = c.Settings()
	}
	e := &Enterprise{Spec: spec, Cloud: cloud, Images: cloud}
	return &Registry{opts: Options{Logger: slog.New(slog.DiscardHandler)}, byTaxNo: map[string]*Enterprise{AnyTaxNo: e},
		order: []string{AnyTaxNo}, limiters: map[string]*rate.Limiter{}, prints: map[string]string{AnyTaxNo: e.fingerprint()},
		built: time.Now(), lost: map[string]time.Time{}}
}

// DefaultWatchEvery is how often Watch looks at the registry file.
const DefaultWatchEvery = 10 * time.Second

// Hangups delivers SIGHUP (reload the registry) until ctx ends.
func Hangups(ctx context.Context) <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	context.AfterFunc(ctx, func() { signal.Stop(ch) })
	return ch
}
