package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// defaultAdminURL is where the admin listener listens by default
	// (VEIL_ADMIN_ADDR).
	defaultAdminURL = "http://127.0.0.1:8081"
	// requestTimeout bounds one call to the admin API. Creating a user
	// hashes a password, which takes a moment on a busy server.
	requestTimeout = 30 * time.Second
	// maxAnswer bounds an answer of the admin API the CLI reads.
	maxAnswer = 16 << 20
	// firstPageSize is the page size asked for when --limit is given and
	// --page-size is not: the admin API's own default.
	firstPageSize = 50
)

// connFlagNames are the flags every admin command has.
var connFlagNames = []string{"admin-url", "admin-token-file", "ca-file", "json"}

// connFlags say where the admin API is, how to trust it, and how to print
// its answers.
type connFlags struct {
	url, tokenFile, caFile string
	json                   bool
}

func newConnFlags(fs *flag.FlagSet, getenv func(string) string) *connFlags {
	c := &connFlags{}
	adminURL := getenv("VEIL_ADMIN_URL")
	if adminURL == "" {
		adminURL = defaultAdminURL
	}
	fs.StringVar(&c.url, "admin-url", adminURL, "the admin API's base `URL` (VEIL_ADMIN_URL)")
	fs.StringVar(&c.tokenFile, "admin-token-file", "", "read the admin token from `FILE` "+
		"(default: VEIL_ADMIN_TOKEN, or the file VEIL_ADMIN_TOKEN_FILE names)")
	fs.StringVar(&c.caFile, "ca-file", getenv("VEIL_ADMIN_CA_FILE"), "trust only the CA "+
		"certificates in PEM `FILE` for an https URL (VEIL_ADMIN_CA_FILE)")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON rather than text")
	return c
}

// session is what an admin command works with: the API and where to write.
type session struct {
	api    *adminAPI
	out    io.Writer
	errOut io.Writer
	json   bool
	now    func() time.Time
}

func (c *connFlags) session(
	stdout, stderr io.Writer, getenv func(string) string,
) (*session, error) {
	base, err := parseAdminURL(c.url)
	if err != nil {
		return nil, err
	}
	token, err := c.token(getenv)
	if err != nil {
		return nil, err
	}
	api, err := newAdminAPI(base, token, c.caFile)
	if err != nil {
		return nil, err
	}
	return &session{api: api, out: stdout, errOut: stderr, json: c.json, now: time.Now}, nil
}

// token reads the admin token. It is never taken from the command line,
// where other users see it (ps) and the shell keeps it (history).
//
// TODO(#6): config.LoadAdminToken reads the same two variables for `veil
// bench`; one reader should serve both, with the CLI's usage errors.
func (c *connFlags) token(getenv func(string) string) (string, error) {
	value, file := getenv("VEIL_ADMIN_TOKEN"), getenv("VEIL_ADMIN_TOKEN_FILE")
	switch {
	case c.tokenFile != "":
		file = c.tokenFile
	case value != "" && file != "":
		return "", usagef("set VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE, not both")
	case value != "":
		return checkToken(value)
	case file == "":
		return "", usagef("no admin token: set VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE, " +
			"or give --admin-token-file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read the admin token file: %w", withoutPath(err))
	}
	return checkToken(strings.TrimSpace(string(b)))
}

// checkToken refuses a token that cannot travel in an Authorization
// header, with a message that does not repeat it.
func checkToken(tok string) (string, error) {
	if tok == "" {
		return "", usagef("the admin token is empty")
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] >= 0x7f {
			return "", usagef("the admin token holds a space, control or non-ASCII character")
		}
	}
	return tok, nil
}

// parseAdminURL checks the admin API's base URL. Plain http is accepted
// only to a loopback address: anywhere else the admin token, which can
// do everything, would cross the network in clear.
func parseAdminURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, usagef("--admin-url must be an http or https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, usagef("--admin-url must have no user information, query or fragment")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, usagef("--admin-url: plain http is for a loopback address only, " +
			"or the admin token would cross the network in clear; use https")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// adminAPI calls Veil's admin API.
type adminAPI struct {
	base   *url.URL
	token  string
	client *http.Client
}

func newAdminAPI(base *url.URL, token, caFile string) (*adminAPI, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" && base.Scheme == "https" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, usagef("the CA file holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   requestTimeout,
		// The admin API never redirects; following one would carry the
		// admin token to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &adminAPI{base: base, token: token, client: client}, nil
}

func (a *adminAPI) close() { a.client.CloseIdleConnections() }

// apiError is an error answer of the admin API.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the admin API answered HTTP %d", e.Status)
	}
	msg := fmt.Sprintf("%s (%s, HTTP %d)", printable(e.Description), printable(e.Code), e.Status)
	if e.Status == http.StatusUnauthorized {
		msg += "; check the admin token"
	}
	return msg
}

// errAnswer is an answer of the admin API the CLI cannot read.
var errAnswer = errors.New("the admin API's answer is not the JSON expected")

// call sends one request to the API at path with the query, and body as
// JSON if not nil, and returns the answer's body. An error answer is an
// *apiError.
func (a *adminAPI) call(
	ctx context.Context, method, path string, query url.Values, body any,
) ([]byte, error) {
	u := *a.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("make the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := a.client.Do(req)
	if err != nil {
		return nil, reachError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("read the admin API's answer: %w", err)
	}
	if len(data) > maxAnswer {
		return nil, fmt.Errorf("the admin API's answer is over %d MiB", maxAnswer>>20)
	}

	if resp.StatusCode >= 300 {
		e := &apiError{}
		if json.Unmarshal(data, e) != nil {
			e = &apiError{}
		}
		e.Status = resp.StatusCode
		return nil, e
	}
	return data, nil
}

// reachError explains a failure to get an answer at all.
func reachError(err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("reach the admin API: %w (give --ca-file, the CA that signed "+
			"Veil's certificate)", err)
	}
	return fmt.Errorf("reach the admin API: %w", err)
}

// listing is the JSON shape of every listing of the admin API.
type listing struct {
	Items         []json.RawMessage `json:"items"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

// pageFlags choose which part of a listing to fetch.
type pageFlags struct {
	limit, size int
	token       string
}

func newPageFlags(fs *flag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 0, "show at most `N` items (default: all of them)")
	fs.IntVar(&p.size, "page-size", 0, "fetch `N` items a request (default: the API's)")
	fs.StringVar(&p.token, "page-token", "", "start where a listing cut short by "+
		"--limit stopped, at its next page `TOKEN`")
	return p
}

// list fetches a listing page after page, until its end or until p.limit
// items are in hand; then the listing's next page token says where the
// rest starts.
func (a *adminAPI) list(
	ctx context.Context, path string, query url.Values, p *pageFlags,
) (listing, error) {
	if p.limit < 0 || p.size < 0 {
		return listing{}, usagef("--limit and --page-size must not be negative")
	}
	all := listing{Items: []json.RawMessage{}}
	next := p.token
	for {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		if n := p.pageSize(len(all.Items)); n > 0 {
			q.Set("limit", strconv.Itoa(n))
		}
		if next != "" {
			q.Set("page_token", next)
		}
		body, err := a.call(ctx, http.MethodGet, path, q, nil)
		if err != nil {
			return listing{}, err
		}

		var page listing
		if err := json.Unmarshal(body, &page); err != nil {
			return listing{}, errAnswer
		}
		all.Items = append(all.Items, page.Items...)
		next = page.NextPageToken
		switch {
		case next == "":
			return all, nil
		case p.limit > 0 && len(all.Items) >= p.limit:
			all.NextPageToken = next
			return all, nil
		case len(page.Items) == 0:
			return listing{}, errors.New("the admin API gave an empty page that is not the last")
		}
	}
}

// pageSize is the size of the next page to ask for, having got items
// already: never past the limit, so that the page token the last page
// gives points exactly after the last item shown. Zero leaves it to the
// API.
func (p *pageFlags) pageSize(got int) int {
	if p.limit == 0 {
		return p.size
	}
	n := p.size
	if n == 0 {
		n = firstPageSize
	}
	return min(n, p.limit-got)
}
