package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server that belongs to one test, so that the test
// may stop it, start it again or freeze it, which it must never do to the
// shared server DSN uses. It listens on a free loopback port (TCP only, no
// Unix socket), trusts every local connection as the role postgres, and
// keeps its files in a temporary directory.
//
// The server runs without fsync: it stands in for a database that works or
// is out of reach, and nothing here crashes the machine under it.
//
// Its methods take the test or subtest calling them, which a failure
// stops.
//
// When the test ends the server is stopped (immediately) and its directory
// removed. On Linux the server is also told to quit if the test process
// dies without cleaning up, as it does when go test's timeout panics.
type Cluster struct {
	bin  string
	dir  string
	port int
	cred *syscall.Credential

	mu   sync.Mutex
	proc *osexec.Cmd
	done chan struct{} // closed when proc has exited
	log  *lockedBuffer
}

// NewCluster creates and starts a Cluster. It skips the test when
// PostgreSQL's server programs (initdb and postgres) cannot be found, or
// fails it in CI (CI=true).
func NewCluster(t testing.TB) *Cluster {
	t.Helper()

	bin, err := serverBinaries()
	if err != nil {
		msg := "PostgreSQL server programs not found (install Debian's postgresql): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cred, err := unprivileged()
	if err != nil {
		t.Fatalf("find a user to run PostgreSQL as: %v", err)
	}

	// Not t.TempDir: its parent is private to this user, and PostgreSQL
	// may run as another.
	dir, err := os.MkdirTemp("", "veil-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, dir: dir, port: freePort(t), cred: cred, log: &lockedBuffer{}}
	t.Cleanup(func() { c.remove(t) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("give %s to the PostgreSQL user: %v", dir, err)
		}
	}

	initdb := c.command("initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.Start(t)
	return c
}

// URL returns the URL of the cluster's maintenance database, postgres.
func (c *Cluster) URL() string {
	return (&url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     c.Addr(),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}).String()
}

// Addr returns the host:port the cluster listens on, the same after every
// Start.
func (c *Cluster) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
}

// Start starts the server and waits until it accepts connections. The
// cluster must be stopped.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		t.Fatal("pgtest: Start of a running cluster")
	}

	cmd := c.command("postgres", "-D", c.dataDir(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=100")
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	c.proc, c.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(c.done)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			_ = conn.Close(ctx)
			return
		}
		select {
		case <-c.done:
			c.proc = nil
			t.Fatalf("postgres exited while starting:\n%s", c.log.String())
		case <-ctx.Done():
			t.Fatalf("postgres not ready after %v: %v\n%s", timeout, err, c.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down and waits until it has exited. Fast
// disconnects every client and shuts down cleanly, as pg_ctl stop -m fast
// does; otherwise the server quits at once, as with -m immediate, and
// recovers from its log at the next Start.
func (c *Cluster) Stop(t testing.TB, fast bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		t.Fatal("pgtest: Stop of a stopped cluster")
	}
	sig := syscall.SIGQUIT
	if fast {
		sig = syscall.SIGINT
	}
	if err := c.stop(sig); err != nil {
		t.Fatal(err)
	}
}

// stop sends sig to the server, waits for it to exit and forgets it.
func (c *Cluster) stop(sig syscall.Signal) error {
	if err := c.proc.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.proc.Process.Kill()
		<-c.done
		return fmt.Errorf("postgres did not stop within %v:\n%s", timeout, c.log.String())
	}
	c.proc = nil
	return nil
}

// remove stops the server, thawed first if frozen, and deletes its files.
func (c *Cluster) remove(t testing.TB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		_ = signalTree(c.proc.Process.Pid, syscall.SIGCONT)
		if err := c.stop(syscall.SIGQUIT); err != nil {
			t.Error(err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("remove cluster directory: %v", err)
	}
}

// Freeze stops every process of the running server (SIGSTOP), so that it
// holds its connections and accepts new ones at the TCP level but answers
// nothing, like a server that hangs or a network that drops packets. Thaw
// undoes it. Freezing needs Linux; elsewhere the test is skipped.
func (c *Cluster) Freeze(t testing.TB) {
	t.Helper()
	if !canFreeze {
		t.Skip("pgtest: freezing a cluster needs Linux")
	}
	c.signalRunning(t, syscall.SIGSTOP)
}

// Thaw lets a frozen server run again.
func (c *Cluster) Thaw(t testing.TB) {
	t.Helper()
	c.signalRunning(t, syscall.SIGCONT)
}

func (c *Cluster) signalRunning(t testing.TB, sig syscall.Signal) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		t.Fatal("pgtest: the cluster is not running")
	}
	if err := signalTree(c.proc.Process.Pid, sig); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// command runs one of the server programs as the cluster's user.
func (c *Cluster) command(name string, args ...string) *osexec.Cmd {
	cmd := osexec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = procAttr(c.cred)
	return cmd
}

// serverBinaries finds a directory holding initdb and postgres: that of
// initdb on PATH, or the newest of Debian's /usr/lib/postgresql/*/bin.
func serverBinaries() (string, error) {
	var dirs []string
	if p, err := osexec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	dirs = append(dirs, versions...)

	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb and postgres on PATH or in /usr/lib/postgresql/*/bin")
}

// majorVersion reads N from /usr/lib/postgresql/N/bin.
func majorVersion(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// unprivileged returns the credentials to run PostgreSQL with, which
// refuses to run as root: nil when this process is not root, else those of
// the user postgres, or of nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("running as root and neither postgres nor nobody exists")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects the server's output, written from the goroutines
// os/exec copies it with.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns the last lines written, enough to see why a start failed.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 4<<10 {
		s = "..." + s[len(s)-4<<10:]
	}
	return strings.TrimSpace(s)
}
