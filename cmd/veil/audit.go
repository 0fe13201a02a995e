package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/url"
	"time"
)

// auditEvent is an event of the audit log. Its members are read as raw
// JSON and shown as they come, so that the table shows whatever type each
// has.
type auditEvent map[string]json.RawMessage

// auditColumns are the members of an event shown as text, in order.
var auditColumns = []string{"time", "action", "outcome", "actor", "target", "source", "request_id"}

var auditHeader = []string{"TIME", "ACTION", "OUTCOME", "ACTOR", "TARGET", "SOURCE", "REQUEST_ID"}

func (e auditEvent) row() []string {
	row := make([]string, len(auditColumns))
	for i, name := range auditColumns {
		row[i] = scalar(e[name])
	}
	if t, err := time.Parse(time.RFC3339Nano, row[0]); err == nil {
		row[0] = when(t)
	}
	return row
}

// scalar is a JSON value as text: a string without its quotes, anything
// else as compact JSON.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.String() == "null" {
		return ""
	}
	return b.String()
}

// auditFilters are the filters of GET /admin/audit, as flags.
var auditFilters = []struct{ name, usage string }{
	{"action", "only events of this `ACTION`"},
	{"actor", "only events done by this `ACTOR`"},
	{"target", "only events done to this `TARGET`"},
	{"outcome", "only events with this `OUTCOME`"},
}

func auditGroup() *group {
	return &group{
		name:    "audit",
		summary: "Read Veil's audit log through its admin API.",
		commands: []*command{{
			summary: "list audit events; the flags filter them (details show with --json)",
			setup:   auditList,
		}},
	}
}

func auditList(fs *flag.FlagSet) action {
	values := make([]string, len(auditFilters))
	for i, f := range auditFilters {
		fs.StringVar(&values[i], f.name, "", f.usage)
	}
	var since, until string
	fs.StringVar(&since, "since", "", "only events at or after `TIME`: RFC 3339, or a "+
		"duration (24h) meaning that long ago")
	fs.StringVar(&until, "until", "", "only events before `TIME`, written as for --since")
	p := newPageFlags(fs)

	return func(ctx context.Context, s *session, _ []string) error {
		q := url.Values{}
		for i, f := range auditFilters {
			if values[i] != "" {
				q.Set(f.name, values[i])
			}
		}
		for name, v := range map[string]string{"since": since, "until": until} {
			if v == "" {
				continue
			}
			t, err := auditTime(name, v, s.now())
			if err != nil {
				return err
			}
			q.Set(name, t)
		}
		l, err := s.api.list(ctx, "/admin/audit", q, p)
		if err != nil {
			return err
		}
		return showList(s, l, auditHeader, auditEvent.row)
	}
}

// auditTime reads the time of --since or --until (name): an RFC 3339
// time, or a positive duration before now. It returns it in RFC 3339, in
// UTC.
func auditTime(name, v string, now time.Time) (string, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC().Format(time.RFC3339), nil
	}
	return "", usagef("--%s wants an RFC 3339 time (2025-01-31T12:00:00Z) "+
		"or a duration (24h)", name)
}
