package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a cookie-keeping HTTP client that fills in Veil's login and
// consent forms the way a person's browser would, without running script
// (Veil's pages need none). The real-browser test (chromium) covers
// rendering; this one covers the protocol.
type browser struct {
	t  *testing.T
	in *instance
	c  *http.Client
}

func (in *instance) newBrowser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		in.t.Fatal(err)
	}
	return &browser{t: in.t, in: in, c: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (b *browser) get(target string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(target), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) postForm(target string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(target), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// abs resolves Veil-relative locations against the instance. It refuses
// any other host: tests send traffic to the Veil they started and nowhere
// else, and a client's redirect URI is only ever read, never fetched.
func (b *browser) abs(target string) string {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		return b.in.base + target
	}
	if !strings.HasPrefix(target, b.in.base+"/") {
		b.t.Fatalf("test browser asked to leave Veil for %s", target)
	}
	return target
}

// location returns the 303 target of r, failing the test otherwise.
func (b *browser) location(r response) string {
	b.t.Helper()
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("status %d (%s), want 303", r.status, r.body)
	}
	return r.header.Get("Location")
}

var hiddenInput = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)

// formFields reads the hidden request and csrf fields of a page.
func formFields(t *testing.T, r response) url.Values {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("page status %d (%s), want 200", r.status, r.body)
	}
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(r.body), -1) {
		v.Set(m[1], m[2])
	}
	if v.Get("request") == "" || v.Get("csrf") == "" {
		t.Fatalf("page lacks request/csrf fields: %s", r.body)
	}
	return v
}

// login fills in the login page at loc and returns where Veil sends the
// browser next.
func (b *browser) login(loc, username, password string) string {
	b.t.Helper()
	form := formFields(b.t, b.get(loc))
	form.Set("username", username)
	form.Set("password", password)
	return b.location(b.postForm("/login", form))
}

// decide answers the consent page at loc and returns the redirect.
func (b *browser) decide(loc, decision string, remember bool) string {
	b.t.Helper()
	form := formFields(b.t, b.get(loc))
	form.Set("decision", decision)
	if remember {
		form.Set("remember", "yes")
	}
	return b.location(b.postForm("/consent", form))
}

// authorize runs the whole browser side: authorization URL, login (when
// asked), consent (when asked), and returns the final redirect to the
// client, parsed.
func (b *browser) authorize(authURL, username, password string, remember bool) *url.URL {
	b.t.Helper()
	loc := b.location(b.get(authURL))
	if strings.HasPrefix(loc, "/login") {
		loc = b.login(loc, username, password)
	}
	if strings.HasPrefix(loc, "/consent") {
		loc = b.decide(loc, "allow", remember)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}
