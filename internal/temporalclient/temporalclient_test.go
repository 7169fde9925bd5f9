package temporalclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rimflow/internal/config"
)

// selfSigned writes a CA-capable certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLSConfigTrustsThePrivateCAAndPresentsTheClientCert runs a real TLS handshake: the server
// requires a client certificate from the client CA, the client verifies the server by the CA file.
func TestTLSConfigTrustsThePrivateCAAndPresentsTheClientCert(t *testing.T) {
	dir := t.TempDir()
	serverCert, serverKey := selfSigned(t, dir, "server")
	clientCert, clientKey := selfSigned(t, dir, "client")

	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	clientPEM, _ := os.ReadFile(clientCert)
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(clientPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 2)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener closed
			}
			go func() {
				defer conn.Close()
				tc := conn.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					peer <- "handshake: " + err.Error()
					return
				}
				peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}()
		}
	}()

	tc, err := TLSConfig(config.Temporal{TLSCert: clientCert, TLSKey: clientKey, TLSCA: serverCert})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), tc)
	if err != nil {
		t.Fatalf("handshake with the configured TLS: %v", err)
	}
	conn.Close()
	select {
	case got := <-peer:
		if got != "client" {
			t.Errorf("server saw %q, want the client certificate", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not finish the handshake within 5s")
	}

	// Without the CA file the private server is not trusted: the client refuses its certificate.
	tc, err = TLSConfig(config.Temporal{TLSCert: clientCert, TLSKey: clientKey})
	if err != nil {
		t.Fatal(err)
	}
	conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), tc)
	var unknown x509.UnknownAuthorityError
	if err == nil {
		conn.Close()
	}
	if !errors.As(err, &unknown) {
		t.Errorf("a server signed by an unknown CA: %v, want an unknown-authority error", err)
	}
}

func TestTLSConfigNamesTheVariable(t *testing.T) {
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir, "a")
	_, otherKey := selfSigned(t, dir, "b")
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for want, tc := range map[string]config.Temporal{
		config.EnvTemporalTLSCert: {TLSCert: cert, TLSKey: otherKey},
		config.EnvTemporalTLSCA:   {TLSCA: notPEM},
	} {
		if _, err := TLSConfig(tc); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%+v: error %v does not name %s", tc, err, want)
		}
	}
}

func TestDialFailureNamesTheServerNotTheKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = Dial(ctx, config.Temporal{Address: addr, Namespace: "ns-1", APIKey: "api-key-secret"}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "ns-1") || strings.Contains(err.Error(), "api-key-secret") {
		t.Errorf("dial error: %v", err)
	}
}
