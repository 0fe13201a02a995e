package postgres_test

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a loopback TCP relay to the test server, which a test can
// freeze (bytes are read but no longer passed on, like a server that hangs)
// or cut (every connection closed, like a server that went away).
type proxy struct {
	dsn    string
	target string
	l      net.Listener
	frozen atomic.Bool
	closed atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

// startProxy relays to the server of dsn and returns a proxy whose dsn
// names the same database through the relay.
func startProxy(t *testing.T, dsn string) *proxy {
	t.Helper()

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse test DSN: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}

	p := &proxy{target: u.Host, l: l}
	u.Host = l.Addr().String()
	p.dsn = u.String()
	go p.serve()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()

		go p.relay(server, client)
		go p.relay(client, server)
	}
}

func (p *proxy) relay(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		for p.frozen.Load() && !p.closed.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// freeze stops passing bytes on, in both directions, on every connection.
func (p *proxy) freeze() {
	p.frozen.Store(true)
}

// cut stops accepting and closes every connection.
func (p *proxy) cut() {
	p.closed.Store(true)
	p.l.Close()

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
