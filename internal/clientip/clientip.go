// Package clientip finds the address of the client behind an HTTP request:
// the TCP peer, or, when that peer is a proxy the operator trusts, the
// address the proxy says it forwarded for. Login throttling and the request
// log count and show this address.
//
// X-Forwarded-For is a list any client can write to: each proxy appends the
// address it received the request from, and whatever the client sent comes
// first. Only the entries appended by trusted proxies can be believed, so
// the list is read from the right, and the first address that is not itself
// a trusted proxy is the client. An operator who trusts no proxy (the
// default) gets the TCP peer, and the header is ignored entirely.
//
// The standardized Forwarded header (RFC 7239) is not read.
package clientip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ErrEverything is returned by ParsePrefix for a prefix of length zero,
// which would make every peer a trusted proxy and let any client choose
// the address it is counted under.
var ErrEverything = errors.New("clientip: a prefix of length zero trusts every address")

// ParsePrefix parses one trusted-proxy entry: a CIDR prefix such as
// 10.0.0.0/8 or fd00::/8, or a single address, which stands for itself
// alone. Prefixes of length zero are refused with ErrEverything.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)

	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("parse prefix: %w", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse address: %w", err)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}

	// An IPv4-mapped IPv6 prefix would never match: peers are compared
	// in their unmapped form.
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("clientip: write IPv4 prefixes in IPv4 form")
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, ErrEverything
	}
	return p.Masked(), nil
}

// Resolve returns the client address of a request that arrived from
// remoteAddr (host:port, as in http.Request.RemoteAddr) carrying the
// X-Forwarded-For header values forwardedFor, in the order received.
//
// When the peer is not in trusted, the answer is the peer. Otherwise the
// entries are read from the right: the first one outside trusted is the
// client. When every entry is trusted the left-most one is the client, and
// when an entry cannot be read the search stops at the last address read,
// so a malformed header never yields an address more than one trusted hop
// away.
func Resolve(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		// Not an IP peer (a test's fake address, a Unix socket): use
		// it as it is.
		if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
			return host
		}
		return remoteAddr
	}
	addr := normalize(peer.Addr())
	if !contains(trusted, addr) {
		return addr.String()
	}

	hops := strings.Split(strings.Join(forwardedFor, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
		if !contains(trusted, hop) {
			break
		}
	}
	return addr.String()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port (some proxies add one, bracketing IPv6 addresses).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// normalize drops an IPv6 zone and unmaps IPv4-mapped IPv6 addresses, so
// that ::ffff:10.0.0.1 is the same client as 10.0.0.1.
func normalize(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type key struct{}

// Middleware resolves each request's client address against trusted and
// stores it in the request context for FromRequest.
func Middleware(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, addr)))
	})
}

// FromRequest returns the client address Middleware found for r. Without
// the middleware it is the host part of r.RemoteAddr, as if no proxy were
// trusted.
func FromRequest(r *http.Request) string {
	if addr := FromContext(r.Context()); addr != "" {
		return addr
	}
	return Resolve(r.RemoteAddr, nil, nil)
}

// FromContext returns the client address Middleware found for the request
// ctx belongs to, or "" if ctx did not pass through it.
func FromContext(ctx context.Context) string {
	addr, _ := ctx.Value(key{}).(string)
	return addr
}
