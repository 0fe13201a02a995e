package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/audit"
)

// specFile is the OpenAPI document of Veil's HTTP API, relative to this
// package.
const specFile = "../../api/openapi.yaml"

// The server URLs the document names, which the tests replace with those
// of the Veil they start.
const (
	specPublicURL = "http://127.0.0.1:8080"
	specAdminURL  = "http://127.0.0.1:8081"
)

// loadSpec reads and validates the document.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("load %s: %v", specFile, err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specFile, err)
	}
	return doc
}

// operations returns every operation of the document as "METHOD /path".
func operations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPIDocument checks the document on its own: it is valid OpenAPI
// 3.1, and every operation has a unique ID and says how callers
// authenticate.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}

	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if op.OperationID == "" || ids[op.OperationID] != "" {
				t.Errorf("%s: operationId %q is empty or also used by %s",
					key, op.OperationID, ids[op.OperationID])
			}
			ids[op.OperationID] = key
			if op.Security == nil {
				t.Errorf("%s has no security requirement (use [] for none)", key)
			}
		}
	}
}

// TestOpenAPIAuditActions checks that the audit listing's action
// parameter lists exactly the actions the server accepts.
func TestOpenAPIAuditActions(t *testing.T) {
	op := loadSpec(t).Paths.Find("/admin/audit").Get
	p := op.Parameters.GetByInAndName("query", "action")
	if p == nil {
		t.Fatal("GET /admin/audit has no action parameter")
	}
	var got []string
	for _, v := range p.Schema.Value.Enum {
		s, _ := v.(string)
		got = append(got, s)
	}
	if diff := cmp.Diff(audit.Actions, got); diff != "" {
		t.Errorf("action enum of GET /admin/audit (-server +document):\n%s", diff)
	}
}

// registerDecoders lets openapi3filter read the bodies of the media types
// Veil answers with that it does not know.
var registerDecoders = sync.OnceFunc(func() {
	openapi3filter.RegisterBodyDecoder("application/jwk-set+json", openapi3filter.JSONBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
})

// specChecker sends requests to a running Veil and checks every exchange
// against the document: the operation exists, the request conforms (or,
// when the test breaks a rule on purpose, does not), and the answer's
// status, headers and body are those the document describes.
type specChecker struct {
	t         *testing.T
	in        *instance
	doc       *openapi3.T
	router    routers.Router
	opts      *openapi3filter.Options
	plain     *http.Client
	exercised map[string]bool
}

func newSpecChecker(t *testing.T, in *instance) *specChecker {
	t.Helper()
	registerDecoders()
	doc := loadSpec(t)
	serveAt(t, doc, in)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the document: %v", err)
	}
	return &specChecker{
		t: t, in: in, doc: doc, router: router,
		opts: &openapi3filter.Options{
			IncludeResponseStatus: true,
			AuthenticationFunc:    presentsCredentials,
		},
		plain: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		exercised: map[string]bool{},
	}
}

// serveAt points the document's servers at in's listeners, so that the
// router also checks that each operation is on the listener the document
// puts it on.
func serveAt(t *testing.T, doc *openapi3.T, in *instance) {
	t.Helper()
	urls := map[string]string{specPublicURL: in.base, specAdminURL: in.adminURL}
	point := func(servers openapi3.Servers) {
		for _, s := range servers {
			u, ok := urls[s.URL]
			if !ok {
				t.Fatalf("the document names server %s, want %s or %s",
					s.URL, specPublicURL, specAdminURL)
			}
			s.URL = u
		}
	}
	point(doc.Servers)
	for _, item := range doc.Paths.Map() {
		point(item.Servers)
	}
}

// presentsCredentials checks that a request carries credentials of the
// scheme the document asks for. Whether they are right is Veil's to say.
func presentsCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	auth := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, in.SecurityScheme.Scheme) {
		return fmt.Errorf("no %s credentials", in.SecurityScheme.Scheme)
	}
	return nil
}

// exchange is one request and what the test expects of Veil's answer.
type exchange struct {
	method, target string
	header         http.Header
	body           []byte
	// client sends the request; nil is one that follows no redirect.
	client *http.Client
	// statuses are the answers Veil may give; the first is the usual one.
	statuses []int
	// breaksSpec says the request breaks the document on purpose: Veil
	// refuses it, and the document must not accept it either.
	breaksSpec bool
}

// request sends method and path to the listener at base.
func (s *specChecker) request(method, base, path string) *exchange {
	return &exchange{method: method, target: base + path, header: http.Header{}}
}

// admin is a request to the admin API with the admin token and, unless v
// is nil, v as its JSON body.
func (s *specChecker) admin(method, path string, v any) *exchange {
	ex := s.request(method, s.in.adminURL, path)
	ex.header.Set("Authorization", "Bearer "+testAdminToken)
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			s.t.Fatal(err)
		}
		ex.body = b
		ex.header.Set("Content-Type", "application/json")
	}
	return ex
}

// form is a form POST to the public listener.
func (s *specChecker) form(path string, form url.Values) *exchange {
	ex := s.request(http.MethodPost, s.in.base, path)
	ex.body = []byte(form.Encode())
	ex.header.Set("Content-Type", "application/x-www-form-urlencoded")
	return ex
}

// basic adds client_secret_basic credentials.
func (ex *exchange) basic(c credentials) *exchange {
	ex.header.Set("Authorization", "Basic "+basicAuth(c))
	return ex
}

// with sets a header.
func (ex *exchange) with(name, value string) *exchange {
	ex.header.Set(name, value)
	return ex
}

// by sends the request with client.
func (ex *exchange) by(client *http.Client) *exchange {
	ex.client = client
	return ex
}

// want sets the statuses Veil may answer with.
func (ex *exchange) want(statuses ...int) *exchange {
	ex.statuses = statuses
	return ex
}

// breaks marks the request as breaking the document on purpose.
func (ex *exchange) breaks() *exchange {
	ex.breaksSpec = true
	return ex
}

// basicAuth encodes client credentials as RFC 6749 §2.3.1 asks.
func basicAuth(c credentials) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	_, value, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	return value
}

// build makes the HTTP request of ex.
func (ex *exchange) build(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(ex.method, ex.target, bytes.NewReader(ex.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = ex.header.Clone()
	return req
}

// run sends ex, checks the exchange, and returns the answer.
func (s *specChecker) run(ex *exchange) response {
	s.t.Helper()
	client := ex.client
	if client == nil {
		client = s.plain
	}
	req := ex.build(s.t)
	var cookies []*http.Cookie
	if client.Jar != nil {
		cookies = client.Jar.Cookies(req.URL)
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", ex.method, ex.target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: body}

	if !slices.Contains(ex.statuses, r.status) {
		s.t.Errorf("%s %s = %d %s, want %v", ex.method, ex.target, r.status, shown(r), ex.statuses)
	}
	s.check(ex, cookies, r)
	return r
}

// shown is the body of r for a failure message: an error's body, and
// nothing of a success, which may hold a secret or a token.
func shown(r response) string {
	if r.status < 400 {
		return "(body withheld)"
	}
	return string(r.body)
}

// check validates the request (with the cookies its client sent) and the
// answer against the document, and records the operation as exercised.
func (s *specChecker) check(ex *exchange, cookies []*http.Cookie, r response) {
	s.t.Helper()
	ctx := context.Background()
	req := ex.build(s.t)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		s.t.Errorf("%s %s: the document has no such operation: %v", ex.method, req.URL.Path, err)
		return
	}
	op := route.Method + " " + route.Path
	s.exercised[op] = true

	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route, Options: s.opts,
	}
	err = openapi3filter.ValidateRequest(ctx, in)
	switch {
	case ex.breaksSpec && err == nil:
		s.t.Errorf("%s: Veil refused a request (%d) that the document accepts", op, r.status)
	case !ex.breaksSpec && err != nil:
		s.t.Errorf("%s: the document refuses the request: %v", op, err)
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.status, Header: r.header, Options: s.opts,
	}
	out.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		s.t.Errorf("%s: the answer %d breaks the document: %v", op, r.status, err)
	}
}

// requireExercised fails for every operation of the document that no
// exchange reached.
func (s *specChecker) requireExercised() {
	s.t.Helper()
	for _, op := range operations(s.doc) {
		if !s.exercised[op] {
			s.t.Errorf("%s is in the document but no test exercises it", op)
		}
	}
}
