package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Listing limits.
const (
	defaultLimit = 50
	maxLimit     = 200
	// maxPageToken bounds the page_token parameter before it is decoded.
	maxPageToken = 512
)

// Page token layout: one version byte, one byte naming the listing, the ID
// the next page starts after, then an HMAC-SHA256 of all that, the whole
// base64url-encoded without padding.
const (
	pageVersion   byte = 1
	pageResources byte = 'r'
	pageClients   byte = 'c'
	pageUsers     byte = 'u'
	pageAudit     byte = 'a'
)

var errPageToken = invalidRequest("page_token is not valid")

// pager makes and checks page tokens. A page token only says where the next
// page starts, and the caller saw that ID already; the MAC is there so that
// the API reads back exactly what it wrote and hands nothing made up to the
// store (security case 14). Every failure gives the same error.
type pager struct {
	key []byte
}

func (p pager) token(kind byte, after string) string {
	msg := append([]byte{pageVersion, kind}, after...)
	return base64.RawURLEncoding.EncodeToString(p.mac(msg, msg))
}

// after returns the ID a page token of the given listing starts after.
func (p pager) after(kind byte, token string) (string, error) {
	if len(token) > maxPageToken {
		return "", errPageToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 2+sha256.Size {
		return "", errPageToken
	}

	msg, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(sum, p.mac(nil, msg)) || msg[0] != pageVersion || msg[1] != kind {
		return "", errPageToken
	}
	return string(msg[2:]), nil
}

// mac appends the HMAC of msg to dst.
func (p pager) mac(dst, msg []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(msg)
	return m.Sum(dst)
}

// page is where a listing starts and how long it is.
type page struct {
	after string
	limit int
}

// readPage reads the limit and page_token query parameters of a listing.
// It accepts no other parameter and neither of them twice.
func (h *handler) readPage(r *http.Request, kind byte) (page, error) {
	q, err := readQuery(r, "limit", "page_token")
	if err != nil {
		return page{}, err
	}
	return h.pageOf(q, kind)
}

// readQuery parses a request's query string. It accepts only the
// parameters named, each at most once.
func readQuery(r *http.Request, names ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalidRequest("query string is malformed")
	}
	for name, values := range q {
		if !slices.Contains(names, name) {
			return nil, invalidRequest("unknown query parameter")
		}
		if len(values) > 1 {
			return nil, invalidRequest("query parameter given more than once")
		}
	}
	return q, nil
}

// pageOf reads the page a listing's query parameters ask for.
func (h *handler) pageOf(q url.Values, kind byte) (page, error) {
	var err error
	p := page{limit: defaultLimit}
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > maxLimit || s[0] != strconv.Itoa(n) {
			return page{}, invalidRequest("limit must be an integer from 1 to %d", maxLimit)
		}
		p.limit = n
	}
	if s, ok := q["page_token"]; ok {
		if p.after, err = h.pages.after(kind, s[0]); err != nil {
			return page{}, err
		}
	}
	return p, nil
}

// listBody is the JSON shape of a listing.
type listBody[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// newList builds the listing of items, fetched with one more than the
// page's limit: if that extra item came back, there is a next page.
func newList[S, T any](h *handler, kind byte, p page, items []S, id func(S) string,
	show func(S) T,
) listBody[T] {
	var body listBody[T]
	if len(items) > p.limit {
		items = items[:p.limit]
		body.NextPageToken = h.pages.token(kind, id(items[len(items)-1]))
	}

	body.Items = make([]T, 0, len(items))
	for _, it := range items {
		body.Items = append(body.Items, show(it))
	}
	return body
}
