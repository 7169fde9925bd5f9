package access

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// IsLoopback reports whether a listen address ("host:port") only accepts connections from this
// machine: a loopback IP (127.0.0.0/8, ::1) or "localhost". An empty host (":8080") listens on
// every interface and is not loopback; neither is any other name, which could resolve anywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen is the rule "no open server off loopback": with no client configured, a server may
// only listen on a loopback address. what names the server in the error ("the API", "the codec server").
func CheckListen(what, addr string, clients *Clients) error {
	if !clients.Open() || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%s refuses to listen on %q with no client configured: set %s (or %s) or listen on a loopback address such as 127.0.0.1:8080",
		what, addr, EnvClientsFile, EnvToken)
}

// LoopbackHostOnly guards an open server (no client configured, loopback only): a request whose
// Host header is not a loopback name or address is refused (403). A web page can make a browser
// reach 127.0.0.1 through a DNS name it rebinds there (DNS rebinding); the browser then sends that
// name as Host, which is how it is told from a local caller. exempt lists path prefixes that
// authenticate by themselves (the cloud's push, signed with the enterprise's key).
func LoopbackHostOnly(h http.Handler, exempt ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range exempt {
			if strings.HasPrefix(r.URL.Path, p) {
				h.ServeHTTP(w, r)
				return
			}
		}
		host := r.Host
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(strings.Trim(host, "[]"), "0")
		}
		if !IsLoopback(host) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"this API is open (no access client) and answers only loopback host names: use 127.0.0.1 or localhost, or configure clients"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CheckOpsListen is the rule for a listener that serves the metrics and the health check
// without a token (the API's ops listener): it is for a scraper and probes on a private network,
// so an address that names a public IP is refused. Every interface (":9091", "0.0.0.0:9091") is
// allowed, since a container listens so on its private network: publishing that port beyond it is
// the deployment's choice (docs/security.md). A name is allowed too: it cannot be judged before
// it resolves.
func CheckOpsListen(addr string) error {
	host, _, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return fmt.Errorf("want host:port or :port, got %q", addr)
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
		return nil
	}
	return fmt.Errorf("%q is a public address: the ops listener serves the metrics without a token, so it listens on loopback, a private address or every interface of a private network", addr)
}
