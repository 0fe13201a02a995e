package redirect

import (
	"strconv"
	"strings"
)

// Match returns the redirect URI to use for an authorization request that
// names requested, and whether it is allowed for a client that registered
// registered.
//
// A requested URI matches when it equals a registered one byte for byte. The
// only other match is for a registered http URI on a loopback IP literal:
// there the requested URI may carry any port, or none, and must equal the
// registered one in everything else (RFC 8252 §7.3), since a native app
// learns its port only when it starts listening. Nothing else is forgiven:
// not case, not a trailing slash, not an extra query parameter.
//
// The returned URI is built from the registered one, so only the checked
// port digits come from the request.
func Match(registered []string, requested string) (string, bool) {
	for _, r := range registered {
		if r == requested {
			return r, true
		}
	}

	req, ok := splitLoopback(requested)
	if !ok || (req.port != "" && !validPort(req.port)) {
		return "", false
	}
	for _, r := range registered {
		reg, ok := splitLoopback(r)
		if ok && reg.host == req.host && reg.rest == req.rest {
			return reg.withPort(req.port), true
		}
	}
	return "", false
}

// loopbackURI is an http URI on a loopback IP literal, cut around its port.
type loopbackURI struct {
	host string // 127.0.0.1 or [::1], brackets kept
	port string // digits, or empty when absent
	rest string // everything after the authority: path and query
}

func (l loopbackURI) withPort(port string) string {
	if port == "" {
		return "http://" + l.host + l.rest
	}
	return "http://" + l.host + ":" + port + l.rest
}

// splitLoopback cuts s into host, port and rest if it is an http URI whose
// host is a loopback IP literal in canonical form. It works on the bytes as
// given, without url.Parse, so that the comparison in Match is between the
// exact strings and no parser normalisation can widen it.
func splitLoopback(s string) (loopbackURI, bool) {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return loopbackURI{}, false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]

	var l loopbackURI
	l.rest = rest
	if strings.HasPrefix(authority, "[") {
		i := strings.IndexByte(authority, ']')
		if i < 0 {
			return loopbackURI{}, false
		}
		l.host, authority = authority[:i+1], authority[i+1:]
		if !isLoopbackLiteral(l.host[1 : len(l.host)-1]) {
			return loopbackURI{}, false
		}
	} else {
		i := strings.IndexByte(authority, ':')
		if i < 0 {
			i = len(authority)
		}
		l.host, authority = authority[:i], authority[i:]
		if !isLoopbackLiteral(l.host) {
			return loopbackURI{}, false
		}
	}

	if authority != "" {
		port, ok := strings.CutPrefix(authority, ":")
		if !ok || !digits(port) {
			return loopbackURI{}, false
		}
		l.port = port
	}
	return l, true
}

// validPort reports whether p is a port number from 1 to 65535 written in
// decimal without a sign or leading zeros.
func validPort(p string) bool {
	if len(p) > 5 || !digits(p) || p[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// digits reports whether s is one or more ASCII decimal digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
