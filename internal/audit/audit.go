// Package audit records Veil's security-relevant events: changes made
// through the admin API, consents given and withdrawn, tokens revoked,
// replayed codes and reused refresh tokens, failed client
// authentications and sign-ins, and key rotations. Each event is a row of
// the audit log in storage and one structured log line (msg "audit"),
// naming the actor, the action, the target, the outcome, the request ID
// (package reqlog) and the client's address (package clientip).
//
// An event never holds a token, code, secret, password, cookie or key
// material: callers put in it only IDs Veil chose, usernames, resource
// identifiers, key IDs and counts.
//
// There are three ways to record, by what is at stake:
//
//   - Change runs an admin change and writes its event in one
//     transaction, so that no change is kept without its record; if the
//     event cannot be written, the change fails too.
//   - Record writes an event of a request that has already done its work
//     (a consent given, a token revoked). A failure to write is logged
//     and does not fail the request.
//   - RecordThrottled is Record for events an attacker can cause at will
//     (failed client authentications and sign-ins; replayed codes and
//     reused refresh tokens, which a client can present again and again):
//     per action, target and source address, it writes at most one event
//     per interval and counts the others, so that a flood neither fills
//     the table nor turns into a database write per request. The next
//     event written for the same key carries the count in its
//     "suppressed" detail.
//
// BUG: Throttling is per process, so each replica writes its own share.
// A count of suppressed events is reported only if its key is seen again
// after its interval; one whose key is forgotten first (see
// Config.ThrottleKeys) is lost, and only the request log has those
// attempts.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/storage"
)

// The actions Veil records. Other code filters by these names, so they
// never change.
const (
	ClientCreate       = "client.create"
	ClientUpdate       = "client.update"
	ClientDelete       = "client.delete"
	ClientRotateSecret = "client.rotate_secret"
	ResourceCreate     = "resource.create"
	ResourceUpdate     = "resource.update"
	ResourceDelete     = "resource.delete"
	UserCreate         = "user.create"
	UserUpdate         = "user.update"
	UserDelete         = "user.delete"
	UserDisable        = "user.disable"
	UserEnable         = "user.enable"
	KeyRotate          = "key.rotate"
	KeyRewrap          = "key.rewrap"
	ConsentGrant       = "consent.grant"
	ConsentRevoke      = "consent.revoke"
	TokenRevoke        = "token.revoke"
	RefreshTokenReuse  = "refresh_token.reuse"
	CodeReplay         = "code.replay"
	ClientAuthFailed   = "client.auth_failed"
	LoginFailed        = "login.failed"
)

// Actions lists every action, in the order above.
var Actions = []string{
	ClientCreate, ClientUpdate, ClientDelete, ClientRotateSecret,
	ResourceCreate, ResourceUpdate, ResourceDelete,
	UserCreate, UserUpdate, UserDelete, UserDisable, UserEnable,
	KeyRotate, KeyRewrap, ConsentGrant, ConsentRevoke, TokenRevoke,
	RefreshTokenReuse, CodeReplay, ClientAuthFailed, LoginFailed,
}

// The outcomes of an event.
const (
	Success = "success"
	Failure = "failure"
)

// The actors that are not a client or a user.
const (
	// ActorAdmin is whoever holds the admin token, or runs `veil keys`.
	ActorAdmin = "admin"
	// ActorSystem is Veil itself, such as the key manager rotating keys
	// when a rotation is due.
	ActorSystem = "system"
	// ActorAnonymous is a caller that has not authenticated.
	ActorAnonymous = "anonymous"
)

// TargetKeys is the target of key rotations and rewraps, which act on
// Veil's keys as a whole; the details name the keys.
const TargetKeys = "keys"

// Client names a client as an actor or target.
func Client(id string) string { return "client:" + id }

// User names a user as an actor or target.
func User(id string) string { return "user:" + id }

// Resource names a resource server as a target, by its admin ID.
func Resource(id string) string { return "resource:" + id }

// Grant names the tokens issued under one grant (one authorization code,
// or one client credentials request) as a target, by the ID they share.
func Grant(requestID string) string { return "grant:" + requestID }

// Event is what a caller tells about an event; the Recorder adds the
// time, the request ID and the source address.
type Event struct {
	// Actor is who acted (ActorAdmin, ActorSystem, ActorAnonymous, or
	// from Client or User).
	Actor string
	// Action is one of Actions.
	Action string
	// Target is what was acted on; empty when nothing is.
	Target string
	// Outcome is Success or Failure; empty means Success.
	Outcome string
	// Details are small facts about the event. Never a secret.
	Details map[string]string
}

// Config configures a Recorder.
type Config struct {
	// Store keeps the events. Required.
	Store storage.Store
	// Logger receives one line per event, and one per event that could
	// not be stored. Nil discards them.
	Logger *slog.Logger
	// Now is the clock events are dated by. Default time.Now.
	Now func() time.Time
	// ThrottleInterval is how long RecordThrottled waits after writing
	// an event before it writes another of the same action, target and
	// source. Default one minute.
	ThrottleInterval time.Duration
	// ThrottleKeys bounds how many keys RecordThrottled remembers at
	// once, so that targets and addresses an attacker makes up cannot
	// exhaust memory. Past it, new keys of an action share one interval.
	// Default 1024.
	ThrottleKeys int
}

// Recorder records events. It is safe for concurrent use.
type Recorder struct {
	store    storage.Store
	log      *slog.Logger
	now      func() time.Time
	throttle *throttle
}

// New returns a Recorder. It panics if cfg has no Store.
func New(cfg Config) *Recorder {
	if cfg.Store == nil {
		panic("audit: Config needs a Store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ThrottleInterval <= 0 {
		cfg.ThrottleInterval = time.Minute
	}
	if cfg.ThrottleKeys <= 0 {
		cfg.ThrottleKeys = 1024
	}
	return &Recorder{
		store: cfg.Store, log: cfg.Logger, now: cfg.Now,
		throttle: newThrottle(cfg.ThrottleInterval, cfg.ThrottleKeys),
	}
}

// Change runs fn, which changes the store through the context it is
// given, and writes e in the same transaction. Errors from fn are
// returned as they are, and nothing is kept. If e cannot be written the
// change is rolled back too: an administrator can try again, while a
// change without its record cannot be told apart from tampering. e is
// logged once the transaction is committed.
func (r *Recorder) Change(ctx context.Context, e Event, fn func(ctx context.Context) error) error {
	tx, err := r.store.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = r.store.Rollback(tx) }()

	if err := fn(tx); err != nil {
		return err
	}
	ev := r.event(ctx, e)
	if err := r.store.CreateAuditEvent(tx, ev); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	if err := r.store.Commit(tx); err != nil {
		return err
	}
	r.logEvent(ctx, ev)
	return nil
}

// Record logs e and writes it. A failure to write is logged, not
// returned: the request e belongs to has done its work already. ctx must
// not carry a transaction that may yet be rolled back.
func (r *Recorder) Record(ctx context.Context, e Event) {
	r.write(ctx, r.event(ctx, e))
}

// RecordThrottled is Record for events anyone can cause at will: of the
// events with e's action, target and source address, it records one per
// interval and counts the rest (see the package doc).
func (r *Recorder) RecordThrottled(ctx context.Context, e Event) {
	ev := r.event(ctx, e)
	suppressed, ok := r.throttle.admit(ev.Action, ev.Action+"\x00"+ev.Target+"\x00"+ev.Source, ev.Time)
	if !ok {
		return
	}
	if suppressed > 0 {
		ev.Details = maps.Clone(ev.Details)
		if ev.Details == nil {
			ev.Details = map[string]string{}
		}
		ev.Details["suppressed"] = strconv.Itoa(suppressed)
	}
	r.write(ctx, ev)
}

// event completes e with what the context knows of its request.
func (r *Recorder) event(ctx context.Context, e Event) *storage.AuditEvent {
	outcome := e.Outcome
	if outcome == "" {
		outcome = Success
	}
	return &storage.AuditEvent{
		Time:      r.now().UTC().Truncate(time.Microsecond),
		Actor:     e.Actor,
		Action:    e.Action,
		Target:    e.Target,
		Outcome:   outcome,
		RequestID: reqlog.ID(ctx),
		Source:    clientip.FromContext(ctx),
		Details:   e.Details,
	}
}

// write logs ev and stores it, logging a failure to store.
func (r *Recorder) write(ctx context.Context, ev *storage.AuditEvent) {
	r.logEvent(ctx, ev)
	if err := r.store.CreateAuditEvent(ctx, ev); err != nil {
		r.log.ErrorContext(ctx, "audit event not stored", "action", ev.Action,
			"request_id", ev.RequestID, "err", err)
	}
}

// logEvent writes ev's log line. Details are a group, in name order.
func (r *Recorder) logEvent(ctx context.Context, ev *storage.AuditEvent) {
	details := make([]any, 0, len(ev.Details))
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		details = append(details, slog.String(k, ev.Details[k]))
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("action", ev.Action),
		slog.String("actor", ev.Actor),
		slog.String("target", ev.Target),
		slog.String("outcome", ev.Outcome),
		slog.String("request_id", ev.RequestID),
		slog.String("source", ev.Source),
		slog.Group("details", details...),
	)
}

// actorKey is the context key of WithActor.
type actorKey struct{}

// WithActor returns a context that names who is acting, for code that
// acts on behalf of several actors (the key manager rotates when asked,
// and when a rotation is due).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or def if none.
func ActorFrom(ctx context.Context, def string) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return def
}
