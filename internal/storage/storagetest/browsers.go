package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

func testSessions(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	live := &storage.Session{ID: "s-live", UserID: "u-alice", AuthTime: base, ExpiresAt: later()}
	old := &storage.Session{ID: "s-old", UserID: "u-alice", AuthTime: base, ExpiresAt: expired}

	creates := []struct {
		name    string
		session *storage.Session
		wantErr error
	}{
		{name: "live", session: live},
		{name: "expired", session: old},
		{name: "ID taken", session: &storage.Session{ID: "s-live", UserID: "u-alice",
			ExpiresAt: later()}, wantErr: storage.ErrConflict},
		{name: "unknown user", session: &storage.Session{ID: "s-nobody", UserID: "none",
			ExpiresAt: later()}, wantErr: storage.ErrNotFound},
	}
	for _, tt := range creates {
		t.Run("create/"+tt.name, func(t *testing.T) {
			in := *tt.session
			checkErr(t, "CreateSession("+in.ID+")", s.CreateSession(ctx, &in), tt.wantErr)
		})
	}

	lookups := []struct {
		id      string
		want    *storage.Session
		wantErr error
	}{
		{id: "s-live", want: live},
		{id: "s-old", wantErr: storage.ErrNotFound},
		{id: "s-nobody", wantErr: storage.ErrNotFound},
		{id: "none", wantErr: storage.ErrNotFound},
	}
	for _, tt := range lookups {
		t.Run("get/"+tt.id, func(t *testing.T) {
			got, err := s.Session(ctx, tt.id)
			if !checkErr(t, "Session("+tt.id+")", err, tt.wantErr) || err != nil {
				return
			}
			if diff := equal(tt.want, got); diff != "" {
				t.Errorf("Session(%s) mismatch (-want +got):\n%s", tt.id, diff)
			}
		})
	}

	// Deleting nothing is not an error.
	for _, id := range []string{"s-live", "s-live", "none"} {
		if err := s.DeleteSession(ctx, id); err != nil {
			t.Errorf("DeleteSession(%s) = %v, want nil", id, err)
		}
	}
	_, err := s.Session(ctx, "s-live")
	checkErr(t, "Session(s-live) after DeleteSession", err, storage.ErrNotFound)
}

func newAuthRequest(id, clientID string, expiresAt time.Time) *storage.AuthRequest {
	return &storage.AuthRequest{ID: id, BrowserHash: "browser-" + id, ClientID: clientID,
		Query: "response_type=code&client_id=" + clientID, CreatedAt: base,
		ExpiresAt: expiresAt}
}

func testAuthRequests(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	pending := newAuthRequest("ar-1", "app", later())
	another := newAuthRequest("ar-2", "app", later())

	creates := []struct {
		name    string
		request *storage.AuthRequest
		wantErr error
	}{
		{name: "pending", request: pending},
		{name: "another", request: another},
		{name: "expired", request: newAuthRequest("ar-old", "app", expired)},
		{name: "ID taken", request: newAuthRequest("ar-1", "app", later()),
			wantErr: storage.ErrConflict},
		{name: "unknown client", request: newAuthRequest("ar-3", "none", later()),
			wantErr: storage.ErrNotFound},
	}
	for _, tt := range creates {
		t.Run("create/"+tt.name, func(t *testing.T) {
			err := s.CreateAuthRequest(ctx, tt.request)
			checkErr(t, "CreateAuthRequest("+tt.request.ID+")", err, tt.wantErr)
		})
	}

	consumeSteps(t, s, pending, another)
}

// consumeSteps looks up and consumes the requests testAuthRequests
// stored, in order: the first consume takes ar-1.
func consumeSteps(t *testing.T, s storage.Store, pending, another *storage.AuthRequest) {
	ctx := context.Background()
	steps := []struct {
		name    string
		call    func(ctx context.Context, id string) (*storage.AuthRequest, error)
		id      string
		want    *storage.AuthRequest
		wantErr error
	}{
		{name: "AuthRequest", call: s.AuthRequest, id: "ar-1", want: pending},
		{name: "AuthRequest", call: s.AuthRequest, id: "ar-old", wantErr: storage.ErrNotFound},
		{name: "AuthRequest", call: s.AuthRequest, id: "ar-3", wantErr: storage.ErrNotFound},
		{name: "ConsumeAuthRequest", call: s.ConsumeAuthRequest, id: "ar-1", want: pending},
		{name: "ConsumeAuthRequest", call: s.ConsumeAuthRequest, id: "ar-1",
			wantErr: storage.ErrNotFound},
		{name: "AuthRequest", call: s.AuthRequest, id: "ar-1", wantErr: storage.ErrNotFound},
		{name: "ConsumeAuthRequest", call: s.ConsumeAuthRequest, id: "ar-old",
			wantErr: storage.ErrNotFound},
		{name: "ConsumeAuthRequest", call: s.ConsumeAuthRequest, id: "none",
			wantErr: storage.ErrNotFound},
		{name: "AuthRequest", call: s.AuthRequest, id: "ar-2", want: another},
	}
	for i, tt := range steps {
		call := tt.name + "(" + tt.id + ")"
		t.Run(fmt.Sprintf("%d/%s", i, call), func(t *testing.T) {
			got, err := tt.call(ctx, tt.id)
			if !checkErr(t, call, err, tt.wantErr) || err != nil {
				return
			}
			if diff := equal(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

// testConsumeAuthRequestConcurrent consumes one request from 20 goroutines
// at once: exactly one may get it.
func testConsumeAuthRequestConcurrent(t *testing.T, s storage.Store) {
	mustCreateClient(t, s, newClient("app"))
	err := s.CreateAuthRequest(context.Background(), newAuthRequest("ar", "app", later()))
	if err != nil {
		t.Fatalf("CreateAuthRequest(ar) = %v, want nil", err)
	}

	const n = 20
	errs := race(n, func() error {
		_, err := s.ConsumeAuthRequest(context.Background(), "ar")
		return err
	})
	if got, notFound := countErrs(errs, nil), countErrs(errs, storage.ErrNotFound); got != 1 ||
		notFound != n-1 {
		t.Errorf("%d concurrent ConsumeAuthRequest(ar) = %d nil, %d ErrNotFound, want 1, %d "+
			"(errors: %v)", n, got, notFound, n-1, errs)
	}
}
