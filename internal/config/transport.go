package config

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/clientip"
)

// loadTransport reads the TLS, proxy and HTTP limit variables. It returns
// VEIL_TRUSTED_PROXIES unparsed, for a flag to override.
func (c *Config) loadTransport(getenv func(string) string) string {
	c.TLSCertFile = getenv("VEIL_TLS_CERT_FILE")
	c.TLSKeyFile = getenv("VEIL_TLS_KEY_FILE")
	c.BehindTLSProxy = c.boolean(getenv, "VEIL_BEHIND_TLS_PROXY")

	const prefix = "VEIL_HTTP_"
	c.ReadHeaderTimeout = c.positive(getenv, prefix+"READ_HEADER_TIMEOUT", DefaultReadHeaderTimeout)
	c.ReadTimeout = c.positive(getenv, prefix+"READ_TIMEOUT", DefaultReadTimeout)
	c.WriteTimeout = c.positive(getenv, prefix+"WRITE_TIMEOUT", DefaultWriteTimeout)
	c.IdleTimeout = c.positive(getenv, prefix+"IDLE_TIMEOUT", DefaultIdleTimeout)
	c.MaxConcurrentRequests = c.count(getenv, "VEIL_MAX_CONCURRENT_REQUESTS",
		DefaultMaxConcurrentRequests)
	return getenv("VEIL_TRUSTED_PROXIES")
}

// transportFlags adds the flags that mirror loadTransport's variables.
func (c *Config) transportFlags(fs *flag.FlagSet, trusted *string) {
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", c.TLSCertFile,
		"PEM certificate chain to serve HTTPS with (VEIL_TLS_CERT_FILE)")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", c.TLSKeyFile,
		"PEM private key of the certificate (VEIL_TLS_KEY_FILE)")
	fs.BoolVar(&c.BehindTLSProxy, "behind-tls-proxy", c.BehindTLSProxy,
		"serve plain HTTP behind a TLS-terminating proxy (VEIL_BEHIND_TLS_PROXY)")
	fs.StringVar(trusted, "trusted-proxies", *trusted,
		"CIDRs whose X-Forwarded-For is believed (VEIL_TRUSTED_PROXIES)")
	fs.DurationVar(&c.ReadHeaderTimeout, "http-read-header-timeout", c.ReadHeaderTimeout,
		"time to read request headers (VEIL_HTTP_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.ReadTimeout, "http-read-timeout", c.ReadTimeout,
		"time to read a whole request (VEIL_HTTP_READ_TIMEOUT)")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", c.WriteTimeout,
		"time to write a response (VEIL_HTTP_WRITE_TIMEOUT)")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", c.IdleTimeout,
		"time an idle connection stays open (VEIL_HTTP_IDLE_TIMEOUT)")
	fs.IntVar(&c.MaxConcurrentRequests, "max-concurrent-requests", c.MaxConcurrentRequests,
		"requests served at once per listener (VEIL_MAX_CONCURRENT_REQUESTS)")
}

// Certificate reads the certificate chain and private key named by
// TLSCertFile and TLSKeyFile. Errors name the files, never their content.
func (c *Config) Certificate() (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load TLS certificate: %w", err)
	}
	return cert, nil
}

// checkTransport reports problems with how the listeners are reached: the
// TLS files, and plain HTTP where it may not be served.
func (c *Config) checkTransport() []error {
	var errs []error

	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		errs = append(errs, errors.New(
			"set VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE together, or neither"))
	case c.TLS():
		// Read now, so that a missing or mismatched file is reported
		// with every other problem instead of after storage is opened.
		if _, err := c.Certificate(); err != nil {
			errs = append(errs, fmt.Errorf(
				"VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE cannot be used: %w", err))
		}
	}

	if c.TLS() {
		return errs
	}
	listeners := []struct{ name, addr string }{
		{"VEIL_PUBLIC_ADDR", c.PublicAddr},
		{"VEIL_ADMIN_ADDR", c.AdminAddr},
	}
	for _, l := range listeners {
		if !c.PlainHTTPAllowed(l.addr) {
			errs = append(errs, fmt.Errorf("%s is not a loopback address, so it must not "+
				"serve plain HTTP: set VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE, or "+
				"VEIL_BEHIND_TLS_PROXY=true if a TLS-terminating proxy stands in front of Veil",
				l.name))
		}
	}
	return errs
}

// checkLimits reports HTTP limits out of range. Zero stands for the
// default, so only negative or extreme values are problems.
func (c *Config) checkLimits() []error {
	var errs []error

	timeouts := []struct {
		name string
		d    time.Duration
	}{
		{"VEIL_HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout},
		{"VEIL_HTTP_READ_TIMEOUT", c.ReadTimeout},
		{"VEIL_HTTP_WRITE_TIMEOUT", c.WriteTimeout},
		{"VEIL_HTTP_IDLE_TIMEOUT", c.IdleTimeout},
	}
	for _, t := range timeouts {
		if t.d != 0 && (t.d < 100*time.Millisecond || t.d > time.Hour) {
			errs = append(errs, fmt.Errorf("%s must be between 100ms and 1h", t.name))
		}
	}
	header := orDefault(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	if header > orDefault(c.ReadTimeout, DefaultReadTimeout) {
		errs = append(errs, errors.New(
			"VEIL_HTTP_READ_HEADER_TIMEOUT must not exceed VEIL_HTTP_READ_TIMEOUT"))
	}

	if c.MaxConcurrentRequests < 0 {
		errs = append(errs, errors.New(
			"VEIL_MAX_CONCURRENT_REQUESTS must be a whole number above zero"))
	}
	return errs
}

// boolean reads a variable that is true, false or unset (false).
func (c *Config) boolean(getenv func(string) string, name string) bool {
	s := getenv(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		c.problems = append(c.problems, fmt.Errorf("%s must be true or false", name))
	}
	return b
}

// positive reads a duration that must be above zero when set: zero would
// read as "no limit" to an operator but as "the default" to Veil.
func (c *Config) positive(getenv func(string) string, name string, def time.Duration) time.Duration {
	d := c.duration(getenv, name, def)
	if d <= 0 {
		c.problems = append(c.problems, fmt.Errorf("%s must be above zero", name))
		return def
	}
	return d
}

// count reads a whole number above zero.
func (c *Config) count(getenv func(string) string, name string, def int) int {
	s := getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		c.problems = append(c.problems, fmt.Errorf("%s must be a whole number above zero", name))
		return def
	}
	return n
}

// prefixes parses VEIL_TRUSTED_PROXIES, recording a problem for each entry
// that is not a usable prefix.
func (c *Config) prefixes(s string) []netip.Prefix {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []netip.Prefix
	for i, part := range strings.Split(s, ",") {
		p, err := clientip.ParsePrefix(part)
		switch {
		case errors.Is(err, clientip.ErrEverything):
			c.problems = append(c.problems, fmt.Errorf("VEIL_TRUSTED_PROXIES entry %d "+
				"trusts every address, so any client could choose the address it is "+
				"counted under", i+1))
		case err != nil:
			c.problems = append(c.problems, fmt.Errorf("VEIL_TRUSTED_PROXIES entry %d "+
				"must be a CIDR prefix such as 10.0.0.0/8, or an IP address", i+1))
		default:
			out = append(out, p)
		}
	}
	return out
}
