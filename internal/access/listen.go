package access

import (
	"fmt"
	"net"
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
