// Package pgtest starts a throwaway PostgreSQL cluster for a test: initdb into a directory of its
// own, a free loopback port, run as a non-root user (`postgres` when the test runs as root, as
// PostgreSQL refuses root), with password authentication for the superuser `temporal` as the
// compose file's postgres service has it. The cluster is stopped and its directory removed when the
// test ends. Only tests import it.
//
// When no PostgreSQL is installed the test is skipped with a message saying how to install it,
// except under CI (the CI environment variable set), where that is a failure: .ci/run installs it.
package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rimflow/systest/skips"
)

// Superuser is the cluster's superuser, the compose file's POSTGRES_USER.
const Superuser = "temporal"

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	Host     string // 127.0.0.1
	Port     int
	User     string // Superuser
	Password string // random, per cluster

	bin    string // directory of initdb and postgres
	dir    string // the cluster's own directory: data/, its log, the password file
	cred   *syscall.Credential
	server *exec.Cmd
	done   chan struct{}
}

// Start starts a cluster that stops with the test (tb.Cleanup), or skips the test when PostgreSQL
// is not installed (fails under CI).
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := findBin()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		skips.Skip(tb, fmt.Sprintf("PostgreSQL is not installed (%v)", err), "apt-get install -y postgresql (.ci/run does)")
	}
	c, err := start(bin)
	if err != nil {
		tb.Fatalf("start a throwaway PostgreSQL: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("PostgreSQL log (tail):\n%s", c.LogTail(3000))
		}
		if err := c.Stop(); err != nil {
			tb.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return c
}

// Addr is host:port.
func (c *Cluster) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// URL is a postgres:// URL for the database as the superuser.
func (c *Cluster) URL(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.User, c.Password), Host: c.Addr(), Path: "/" + database,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// LogTail is the last n bytes of the server's log.
func (c *Cluster) LogTail(n int) string {
	raw, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if len(raw) > n {
		raw = raw[len(raw)-n:]
	}
	return string(raw)
}

// Stop stops the server (a fast shutdown) and removes its directory.
func (c *Cluster) Stop() error {
	if c.dir == "" {
		return nil
	}
	var err error
	if c.server != nil {
		_ = c.server.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(time.Minute):
			_ = c.server.Process.Kill()
			<-c.done
			err = errors.New("PostgreSQL did not stop within a minute; killed")
		}
	}
	if rmErr := os.RemoveAll(c.dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	c.dir = ""
	return err
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func start(bin string) (*Cluster, error) {
	c := &Cluster{Host: "127.0.0.1", User: Superuser, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a non-root user for PostgreSQL (the package creates `postgres`): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	var err error
	// Not t.TempDir: its parents are private to root, and the server runs as another user.
	if c.dir, err = os.MkdirTemp("", "rimflow-pg-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		_ = os.RemoveAll(c.dir)
		return nil, err
	}
	secret := make([]byte, 12)
	_, _ = rand.Read(secret)
	c.Password = hex.EncodeToString(secret)
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if c.cred != nil {
		for _, p := range []string{c.dir, pwfile} {
			if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	if err := c.run("initdb", "-D", c.data(), "-U", c.User, "--pwfile", pwfile, "--auth", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		return fail(err)
	}
	// A free port can be taken between the check and the start; try a few.
	for attempt := 0; ; attempt++ {
		if c.Port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = c.startServer(); err == nil {
			return c, nil
		}
		if attempt == 2 {
			return fail(fmt.Errorf("%w\n%s", err, c.LogTail(2000)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startServer runs the postmaster as a child of this process (not daemonized by pg_ctl), so it
// dies with the test process even when that one is killed (a test timeout), and waits until it
// accepts connections.
func (c *Cluster) startServer() error {
	logFile, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data(), "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir,
		// A throwaway cluster need not survive a machine crash (a killed process loses nothing:
		// the data is in the page cache); without the flushes a schema and a test run in a
		// fraction of the time on a shared disk.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGQUIT is PostgreSQL's immediate shutdown: the cluster is thrown away anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-done:
			return fmt.Errorf("postgres exited at start (port %d)", c.Port)
		default:
		}
		ready := c.run("pg_isready", "-q", "-h", c.Host, "-p", strconv.Itoa(c.Port))
		if ready == nil {
			c.server, c.done = cmd, done
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("postgres does not accept connections after a minute: %w", ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run runs one of PostgreSQL's programs as the cluster's user, in its directory.
func (c *Cluster) run(prog string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// findBin finds the directory of initdb, postgres and pg_isready: on PATH, or the newest version
// under Debian's /usr/lib/postgresql/<version>/bin.
func findBin() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	for _, p := range found {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, dir := range dirs {
		if hasAll(dir, "initdb", "postgres", "pg_isready") {
			return dir, nil
		}
	}
	return "", errors.New("no initdb, postgres and pg_isready together on PATH or under /usr/lib/postgresql/*/bin")
}

func hasAll(dir string, programs ...string) bool {
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// version is the major version in /usr/lib/postgresql/<version>/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
