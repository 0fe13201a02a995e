package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Bounds on what is read from Veil. Its real answers are a few KiB.
const (
	maxMetadataBytes      = 64 << 10
	maxJWKSBytes          = 256 << 10
	maxIntrospectionBytes = 64 << 10
)

// retryInterval is the least time between two attempts at a fetch that
// failed, so that a Veil that is down is not asked again by every request.
const retryInterval = time.Second

// metadataPath is the well-known path of RFC 8414 §3.
const metadataPath = "/.well-known/oauth-authorization-server"

// fetcher makes bounded requests to Veil.
type fetcher struct {
	client  *http.Client
	timeout time.Duration
}

// refuseRedirect keeps the client from following a redirect: every URL the
// Verifier fetches is the issuer's or configured, and a redirect could take
// it anywhere.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// do sends req and returns the headers and body of a 200 answer of at most
// limit bytes. Anything else is an error.
func (f *fetcher) do(ctx context.Context, req *http.Request, limit int64) (http.Header, []byte, error) {
	what := req.Method + " " + req.URL.Redacted()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := f.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer to %s: %w", what, err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%s: answer larger than %d bytes", what, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: status %d", what, resp.StatusCode)
	}
	return resp.Header, body, nil
}

// get fetches a JSON document.
func (f *fetcher) get(ctx context.Context, u string, limit int64) (http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	return f.do(ctx, req, limit)
}

// checkURL accepts an absolute https URL, or an http one on a loopback
// address, without user information.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("want an absolute URL without user information")
	}
	if u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()) {
		return nil
	}
	return errors.New("want https, or http on a loopback address")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether raw is a valid URL on the issuer's scheme,
// host and port (RFC 6454 §4): the only place discovered endpoints may
// point.
func sameOrigin(issuer, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || checkURL(raw) != nil || u.Fragment != "" {
		return false
	}
	iss, _ := url.Parse(issuer)
	return origin(u) == origin(iss)
}

func origin(u *url.URL) string {
	port := u.Port()
	if port == "" && u.Scheme == "https" {
		port = "443"
	} else if port == "" {
		port = "80"
	}
	return u.Scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// call is one fetch in progress, which concurrent callers share.
type call[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// startCall runs fn on a goroutine of its own. fn gets ctx without its
// cancellation, so that the caller who started the fetch giving up does
// not fail the others waiting for it; the fetcher's timeout bounds it.
func startCall[V any](ctx context.Context, fn func(context.Context) (V, error)) *call[V] {
	c := &call[V]{done: make(chan struct{})}
	detached := context.WithoutCancel(ctx)
	go func() {
		defer close(c.done)
		c.val, c.err = fn(detached)
	}()
	return c
}

// wait returns the call's result, or gives up when ctx ends.
func (c *call[V]) wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, &UnavailableError{Err: fmt.Errorf("wait for issuer: %w", ctx.Err())}
	}
}

// metadata is the part of Veil's RFC 8414 metadata a Verifier uses.
type metadata struct {
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discovery reads Veil's metadata once and keeps it: the endpoints it names
// do not move while Veil runs. A failure is kept for retryInterval.
type discovery struct {
	issuer string
	web    *fetcher
	now    func() time.Time

	mu       sync.Mutex
	doc      *metadata
	failed   error
	tried    time.Time
	fetching *call[*metadata]
}

func newDiscovery(issuer string, web *fetcher, now func() time.Time) *discovery {
	return &discovery{issuer: issuer, web: web, now: now}
}

// metadataURL places the well-known path between the issuer's host and its
// path (RFC 8414 §3.1).
func (d *discovery) metadataURL() string {
	u, _ := url.Parse(d.issuer)
	u.Path = metadataPath + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// jwksURL returns the metadata's jwks_uri.
func (d *discovery) jwksURL(ctx context.Context) (string, error) {
	return d.endpoint(ctx, "jwks_uri", func(m *metadata) string { return m.JWKSURI })
}

// introspectionURL returns the metadata's introspection_endpoint.
func (d *discovery) introspectionURL(ctx context.Context) (string, error) {
	pick := func(m *metadata) string { return m.IntrospectionEndpoint }
	return d.endpoint(ctx, "introspection_endpoint", pick)
}

// endpoint returns the metadata member pick chooses, which must be a URL
// on the issuer's origin.
func (d *discovery) endpoint(ctx context.Context, name string, pick func(*metadata) string) (string, error) {
	doc, err := d.metadata(ctx)
	if err != nil {
		return "", err
	}
	u := pick(doc)
	if !sameOrigin(d.issuer, u) {
		err := fmt.Errorf("metadata %s is not a URL on the issuer's origin", name)
		return "", &UnavailableError{Err: err}
	}
	return u, nil
}

func (d *discovery) metadata(ctx context.Context) (*metadata, error) {
	d.mu.Lock()
	if d.doc != nil {
		defer d.mu.Unlock()
		return d.doc, nil
	}
	c := d.fetching
	if c == nil {
		now := d.now()
		if d.failed != nil && now.Sub(d.tried) < retryInterval {
			defer d.mu.Unlock()
			return nil, &UnavailableError{Err: d.failed}
		}
		d.tried = now
		c = startCall(ctx, d.fetch)
		d.fetching = c
	}
	d.mu.Unlock()
	return c.wait(ctx)
}

func (d *discovery) fetch(ctx context.Context) (*metadata, error) {
	doc, err := d.download(ctx)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.fetching = nil
	d.failed = err
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	d.doc = doc
	return doc, nil
}

func (d *discovery) download(ctx context.Context) (*metadata, error) {
	_, body, err := d.web.get(ctx, d.metadataURL(), maxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch metadata: %w", err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
		metadata
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	// RFC 8414 §3.3: metadata naming another issuer must not be used, or
	// one server could pass itself off as another.
	if doc.Issuer != d.issuer {
		return nil, errors.New("metadata names another issuer")
	}
	return &doc.metadata, nil
}
