package invoicecloud

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults every edition's client shares.
const (
	DefaultTimeout       = 15 * time.Second
	DefaultPollHold      = 35 * time.Second // the cloud holds a poll up to 30 s
	DefaultRefreshBefore = 5 * time.Minute
	// DefaultTokenLifetime is assumed when the cloud's expiry cannot be trusted
	// (an expire_time already in the past means the clocks disagree). Tokens live about 2 h.
	DefaultTokenLifetime = 2 * time.Hour
)

// ConfigError is a bad setting: never retryable, Field names it.
func ConfigError(field, msg string) error {
	return &Error{MessageType: "config", Field: field, Message: msg}
}

// NamedValue is a setting and its name in errors (Named).
type NamedValue struct{ Name, V string }

// Named is the setting name with value v.
func Named(name, v string) NamedValue { return NamedValue{Name: name, V: v} }

// RequireAll names the first empty setting.
func RequireAll(why string, settings ...NamedValue) error {
	for _, f := range settings {
		if strings.TrimSpace(f.V) == "" {
			return ConfigError(f.Name, why)
		}
	}
	return nil
}

// parseBaseURL is baseURL's shape, common to every address rimflow calls: required, an absolute
// http(s) URL without query or fragment (errors name baseURL).
func parseBaseURL(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	switch {
	case strings.TrimSpace(baseURL) == "":
		return nil, ConfigError("baseURL", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, ConfigError("baseURL", "must be an absolute http(s) URL")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, ConfigError("baseURL", "must not carry a query or fragment")
	}
	return u, nil
}

// ValidateBaseURL: required, an absolute http(s) URL without query or fragment; plain http only
// to this machine (a loopback host) unless allowInsecure says so: secrets and tokens travel on
// every call.
func ValidateBaseURL(baseURL string, allowInsecure bool) error {
	u, err := parseBaseURL(baseURL)
	switch {
	case err != nil:
		return err
	case u.Scheme == "http" && !allowInsecure && !loopbackHost(u.Hostname()):
		return ConfigError("baseURL", "must be https: credentials and tokens travel on every call (plain http is accepted only to a loopback host, or with allowInsecureHTTP)")
	}
	return nil
}

// loopbackHost reports whether host (no port) is this machine: "localhost" or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateDurations: the transport's durations are not negative.
func ValidateDurations(timeout, pollHold, refreshBefore time.Duration) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", timeout}, {"pollHold", pollHold}, {"refreshBefore", refreshBefore}} {
		if d.v < 0 {
			return ConfigError(d.name, "must not be negative")
		}
	}
	return nil
}

// ValidatePaths: every path starts with "/" and carries no query.
func ValidatePaths(paths ...NamedValue) error {
	for _, p := range paths {
		if !strings.HasPrefix(p.V, "/") || strings.ContainsAny(p.V, "?# ") {
			return ConfigError(p.Name, `must start with "/" and carry no query`)
		}
	}
	return nil
}

// FillDefaults replaces each empty setting by its default: an edition's paths and names.
func FillDefaults(settings ...DefaultedValue) {
	for _, p := range settings {
		if *p.V == "" {
			*p.V = p.Default
		}
	}
}

// DefaultedValue is a setting and its default (FillDefaults).
type DefaultedValue struct {
	V       *string
	Default string
}

// Default is the setting at v with its default d.
func Default(v *string, d string) DefaultedValue { return DefaultedValue{V: v, Default: d} }

// SetByName sets an edition block's settings given by name (paths.deduction: /x) into named, the
// edition's settings of that kind by name. An unknown name, or a value check refuses (its
// problem, "" when fine), is reported as key.name through r.Bad, in the names' order.
func SetByName(r BlockReader, key string, given map[string]string, named map[string]*string, check func(string) string) {
	for _, name := range slices.Sorted(maps.Keys(given)) {
		v := strings.TrimSpace(given[name])
		to, ok := named[name]
		if !ok {
			r.Bad(key+"."+name, "not one of the edition's %s (%s)", key, strings.Join(slices.Sorted(maps.Keys(named)), ", "))
			continue
		}
		if why := check(v); why != "" {
			r.Bad(key+"."+name, "%s, got %q", why, v)
			continue
		}
		*to = v
	}
}

// PathProblem says what is wrong with an endpoint path under a base URL ("" when fine): it starts
// with "/" and has no query, fragment or white space.
func PathProblem(p string) string {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# \t\r\n") {
		return "want a path under baseURL starting with /, without a query or spaces"
	}
	return ""
}

// NameProblem says what is wrong with a messageType or operateType name ("" when fine).
func NameProblem(n string) string {
	if n == "" || strings.ContainsAny(n, " \t\r\n/?#") {
		return "want a name without spaces or /"
	}
	return ""
}

// SetCodes sets *to from a block's list of the cloud's codes under key, when the block gives
// one; a malformed code is the block's error, naming key.
func SetCodes(r BlockReader, key string, given []string, to *[]string) {
	if given == nil {
		return
	}
	if why := CodesProblem(given); why != "" {
		r.Bad(key, "%s", why)
	}
	*to = given
}

// CodesProblem says what is wrong with a list of the cloud's answer codes ("" when fine).
func CodesProblem(codes []string) string {
	for _, c := range codes {
		if strings.TrimSpace(c) == "" || strings.ContainsAny(c, " \t,") {
			return fmt.Sprintf("want the cloud's codes (such as 2001), got %q", codes)
		}
	}
	return ""
}
