package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// maxAuditFilter bounds the actor and target filters: every actor and
// target Veil records is far shorter.
const maxAuditFilter = 256

// auditBody is the JSON shape of an audit event. ID is a string, as every
// other ID of the API is, though it is made of digits.
type auditBody struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Target    string            `json:"target"`
	Outcome   string            `json:"outcome"`
	RequestID string            `json:"request_id"`
	Source    string            `json:"source"`
	Details   map[string]string `json:"details"`
}

func showAuditEvent(e *storage.AuditEvent) auditBody {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditBody{
		ID:        strconv.FormatInt(e.ID, 10),
		Time:      e.Time,
		Actor:     e.Actor,
		Action:    e.Action,
		Target:    e.Target,
		Outcome:   e.Outcome,
		RequestID: e.RequestID,
		Source:    e.Source,
		Details:   details,
	}
}

// listAudit lists audit events, newest first, filtered by the query
// parameters action, actor, target and outcome (exact matches), since
// (events at or after it) and until (events before it), paginated as the
// other listings are.
func (h *handler) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := readQuery(r, "limit", "page_token", "action", "actor", "target", "outcome",
		"since", "until")
	if err != nil {
		return err
	}
	p, err := h.pageOf(q, pageAudit)
	if err != nil {
		return err
	}
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	if p.after != "" {
		// The page token is the API's own, so its ID always reads.
		if f.Before, err = strconv.ParseInt(p.after, 10, 64); err != nil {
			return errPageToken
		}
	}
	f.Limit = p.limit + 1

	items, err := h.store.ListAuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	id := func(e *storage.AuditEvent) string { return strconv.FormatInt(e.ID, 10) }
	writeJSON(w, http.StatusOK, newList(h, pageAudit, p, items, id, showAuditEvent))
	return nil
}

// auditFilter reads the filters of an audit listing. A filter given
// empty is refused rather than taken to mean "any".
func auditFilter(q url.Values) (storage.AuditFilter, error) {
	var f storage.AuditFilter
	if s, ok := q["action"]; ok {
		if !slices.Contains(audit.Actions, s[0]) {
			return f, invalidRequest("action must name an audit action, such as %s", audit.ClientCreate)
		}
		f.Action = s[0]
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"actor", &f.Actor}, {"target", &f.Target}} {
		if s, ok := q[p.name]; ok {
			if s[0] == "" || len(s[0]) > maxAuditFilter || !storage.ValidText(s[0]) {
				return f, invalidRequest("%s must be 1 to %d bytes of text", p.name, maxAuditFilter)
			}
			*p.dst = s[0]
		}
	}
	if s, ok := q["outcome"]; ok {
		if s[0] != audit.Success && s[0] != audit.Failure {
			return f, invalidRequest("outcome must be %s or %s", audit.Success, audit.Failure)
		}
		f.Outcome = s[0]
	}

	var err error
	if f.Since, err = readTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = readTime(q, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		return f, invalidRequest("since must not be after until")
	}
	return f, nil
}

// readTime reads an RFC 3339 time parameter; zero if it is absent.
func readTime(q url.Values, name string) (time.Time, error) {
	s, ok := q[name]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s[0])
	if err != nil {
		return time.Time{}, invalidRequest("%s must be an RFC 3339 time, such as 2025-01-02T15:04:05Z", name)
	}
	return t, nil
}
