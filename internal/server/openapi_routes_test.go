package server_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
)

// moduleRoot is the root of Veil's source, relative to this package.
const moduleRoot = "../.."

// routeLiteral matches a string literal that may be a route pattern or a
// path: an optional method, then a path with optional {wildcards}.
var routeLiteral = regexp.MustCompile(`^(?:(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) )?(/[A-Za-z0-9._~{}/-]*)$`)

// probeMethods are the methods each candidate path is asked with. HEAD is
// left out: net/http serves it wherever GET is.
var probeMethods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions,
}

// TestOpenAPICoversEveryRoute fails when a listener answers a method and
// path that the document does not describe on that listener. ServeMux
// cannot list its routes, so every path-like string literal in Veil's
// source is a candidate, which catches routes however they are registered:
// each is asked with every method, and an answer other than 405 or the
// listener's "no such route" must belong to an operation of the document.
// Wildcards are filled with "probe", which names no item, and a subtree
// pattern ending in "/" gets a "probe" segment; so probes change nothing
// but the keys (POST /admin/keys/rotate) on the Veil they start.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	s := newSpecChecker(t, in)
	paths := routeCandidates(t)

	for _, base := range []string{in.base, in.adminURL} {
		none := s.probe(http.MethodGet, base, "/veil-openapi-probe/nothing")
		for _, path := range paths {
			for _, method := range probeMethods {
				r := s.probe(method, base, path)
				if r.status == http.StatusMethodNotAllowed ||
					r.status == none.status && bytes.Equal(r.body, none.body) {
					continue
				}
				req := s.request(method, base, path).build(t)
				if _, _, err := s.router.FindRoute(req); err != nil {
					t.Errorf("%s%s answers %s with %d, but the document has "+
						"no such operation there", base, path, method, r.status)
				}
			}
		}
	}
}

// probe asks method and path of the listener at base, with the admin token
// on the admin listener.
func (s *specChecker) probe(method, base, path string) response {
	s.t.Helper()
	ex := s.request(method, base, path)
	if base == s.in.adminURL {
		ex.with("Authorization", "Bearer "+testAdminToken)
	}
	resp, err := s.plain.Do(ex.build(s.t))
	if err != nil {
		s.t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body.Bytes()}
}

// routeCandidates returns the paths of the path-like string literals in
// the non-test Go files of the module, ready to ask.
func routeCandidates(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != moduleRoot && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		return addLiterals(set, path)
	})
	if err != nil {
		t.Fatalf("read the source: %v", err)
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// addLiterals adds to set the probe path of each route-like literal in
// the Go file at path.
func addLiterals(set map[string]bool, path string) error {
	f, err := parser.ParseFile(gotoken.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != gotoken.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		m := routeLiteral.FindStringSubmatch(s)
		if err != nil || m == nil {
			return true
		}
		p := wildcard.ReplaceAllString(m[1], "probe")
		if strings.HasSuffix(p, "/") {
			p += "probe"
		}
		set[p] = true
		return true
	})
	return nil
}
