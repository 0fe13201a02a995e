package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// op is one kind of request a worker sends.
type op int

const (
	opToken op = iota
	opIntrospect
	numOps
)

// opNames name the operations in a Result.
var opNames = [numOps]string{"client_credentials", "introspect"}

// maxAnswer bounds the answer read from Veil; its largest, a token
// response, is a few KiB.
const maxAnswer = 64 << 10

// worker sends one request at a time as its identity and records what
// came back. Only its own goroutine touches it until the run is over.
type worker struct {
	r                  *runner
	clientAuth, rsAuth string // Authorization header values
	rng                *rand.Rand
	// pool holds the tokens to introspect; next is the slot introspected
	// next, fill the slot a token obtained during a mixed run replaces.
	pool       []string
	next, fill int
	buf        bytes.Buffer
	stats      [numOps]opStats
}

// opStats counts the measured requests of one operation.
type opStats struct {
	hist      histogram
	successes int64
	errors    map[string]int64
}

// liveCounts are the totals the progress reports read while workers run.
type liveCounts struct {
	done, failed atomic.Int64
}

func newWorker(r *runner, id *identity, seed int64) *worker {
	w := &worker{
		r:          r,
		clientAuth: basicAuth(id.clientID, id.clientSecret),
		rsAuth:     basicAuth(id.rsID, id.rsKey),
		rng:        rand.New(rand.NewPCG(uint64(seed), uint64(time.Now().UnixNano()))),
	}
	for i := range w.stats {
		w.stats[i].errors = map[string]int64{}
	}
	return w
}

// basicAuth is client_secret_basic (RFC 6749 §2.3.1): both values
// form-encoded, then HTTP Basic.
func basicAuth(id, secret string) string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// run sends requests until until, recording those started at or after
// from. A request still in flight at until completes and counts.
func (w *worker) run(ctx context.Context, from, until time.Time, live *liveCounts) {
	for ctx.Err() == nil {
		start := time.Now()
		if !start.Before(until) {
			return
		}
		o := w.pick()
		var kind string
		if o == opToken {
			kind = w.token(ctx)
		} else {
			kind = w.introspect(ctx)
		}
		d := time.Since(start)
		if ctx.Err() != nil {
			// Interrupted: the failure is the caller's, not Veil's.
			return
		}

		live.done.Add(1)
		if kind != "" {
			live.failed.Add(1)
		}
		if !start.Before(from) {
			w.stats[o].record(d, kind)
		}
	}
}

func (s *opStats) record(d time.Duration, kind string) {
	s.hist.record(d)
	if kind == "" {
		s.successes++
	} else {
		s.errors[kind]++
	}
}

// pick chooses the next request.
func (w *worker) pick() op {
	switch w.r.cfg.Mode {
	case ModeIntrospect:
		return opIntrospect
	case ModeMix:
		if w.rng.Float64() < w.r.cfg.IntrospectShare {
			return opIntrospect
		}
	}
	return opToken
}

// fillPool obtains the tokens a worker introspects.
func (w *worker) fillPool(ctx context.Context) error {
	w.pool = make([]string, 0, w.r.cfg.PoolSize)
	for range w.r.cfg.PoolSize {
		if kind := w.token(ctx); kind != "" {
			return fmt.Errorf("a token request failed: %s", kind)
		}
	}
	return nil
}

// token requests a client credentials token. It returns the kind of
// error, or "" on success; the token joins the pool.
func (w *worker) token(ctx context.Context) string {
	status, data, err := w.post(ctx, "/oauth2/token", w.clientAuth, "grant_type=client_credentials&scope=read")
	if err != nil {
		return transportKind(err)
	}
	if status != http.StatusOK {
		return httpKind(status, data)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(data, &answer) != nil || strings.Count(answer.AccessToken, ".") != 4 {
		// Veil's access tokens are compact JWEs: five parts.
		return "answer: not an encrypted token"
	}
	if w.r.cfg.tokenSeen != nil {
		w.r.cfg.tokenSeen(answer.AccessToken)
	}
	w.keep(answer.AccessToken)
	return ""
}

// keep adds a token to the pool, replacing the oldest once it is full.
func (w *worker) keep(tok string) {
	if len(w.pool) < cap(w.pool) {
		w.pool = append(w.pool, tok)
		return
	}
	if len(w.pool) > 0 {
		w.pool[w.fill] = tok
		w.fill = (w.fill + 1) % len(w.pool)
	}
}

// introspect asks about the next token of the pool as the resource server
// it was issued for. It returns the kind of error, or "" when the token
// is active.
func (w *worker) introspect(ctx context.Context) string {
	tok := w.pool[w.next]
	w.next = (w.next + 1) % len(w.pool)
	// A compact JWE holds only base64url characters and dots, which a
	// form carries as they are.
	status, data, err := w.post(ctx, "/oauth2/introspect", w.rsAuth, "token="+tok)
	if err != nil {
		return transportKind(err)
	}
	if status != http.StatusOK {
		return httpKind(status, data)
	}
	var answer struct {
		Active *bool `json:"active"`
	}
	switch {
	case json.Unmarshal(data, &answer) != nil || answer.Active == nil:
		return "answer: not an introspection response"
	case !*answer.Active:
		return "answer: token inactive"
	}
	return ""
}

// post sends a form with an Authorization header and reads the whole
// answer, so that the connection is kept for the next request. The bytes
// returned are valid until the next call.
func (w *worker) post(ctx context.Context, path, auth, form string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.r.public+path, strings.NewReader(form))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	resp, err := w.r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	w.buf.Reset()
	if _, err := w.buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer)); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, w.buf.Bytes(), nil
}

// httpKind names an error answer by its status and its OAuth error code
// (RFC 6749 §5.2), when it has one.
func httpKind(status int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	kind := "HTTP " + strconv.Itoa(status)
	if json.Unmarshal(body, &e) == nil && e.Error != "" && len(e.Error) <= 64 {
		kind += " " + e.Error
	}
	return kind
}

// transportKind names a request that got no answer.
func transportKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &netErr) && netErr.Timeout():
		return "transport: timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "transport: connection refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "transport: connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "transport: out of local ports"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "transport: connection closed"
	}
	return "transport: other"
}
