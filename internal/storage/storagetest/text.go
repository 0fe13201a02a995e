package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// badTexts are strings no Store may hold: a NUL character, a byte that is
// never UTF-8, and a multi-byte sequence cut short.
var badTexts = []struct{ name, s string }{
	{name: "NUL", s: "nul\x00byte"},
	{name: "invalid byte", s: "bad\xffbyte"},
	{name: "truncated rune", s: "cut\xc3"},
}

// textFixture is what testInvalidText writes next to: a resource, a
// client, a user, and a grant under their consent.
type textFixture struct {
	client *storage.Client
	user   *storage.User
	grant  grant
}

func mustTextFixture(t *testing.T, s storage.Store) textFixture {
	t.Helper()

	mustCreateResource(t, s, "r1", api)
	f := textFixture{
		client: mustCreateClient(t, s, newClient("app", api)),
		user:   mustCreateUser(t, s, newUser("u-alice", "alice")),
	}
	f.grant = mustGrant(t, s, "c1", "u-alice", "app", api)
	return f
}

// everything is what testInvalidText checks a refused write left alone.
type everything struct {
	Stored   stored
	Users    []*storage.User
	Consents []*storage.Consent
	Keys     []*storage.Key
}

func snapshotAll(t *testing.T, s storage.Store) everything {
	t.Helper()

	ctx := context.Background()
	users, err1 := s.ListUsers(ctx, "", 1000)
	consents, err2 := s.ListConsents(ctx, "u-alice")
	keys, err3 := s.Keys(ctx)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("list everything stored: %v", err)
	}
	return everything{Stored: snapshot(t, s), Users: users, Consents: consents, Keys: keys}
}

// textCall is a Store method called with a string that is not valid text,
// and what it must return.
type textCall struct {
	name string
	call func(bad string) error
	want error
	// gone, if set, looks up by a valid key what call must not have
	// stored; it must return ErrNotFound.
	gone func() error
}

// testInvalidText checks the rule of the Store doc for strings that are
// not valid UTF-8 or hold a NUL character: writes return ErrInvalid and
// store nothing, paging bounds are ErrInvalid, and everything else treats
// the string as a key no item has.
func testInvalidText(t *testing.T, s storage.Store) {
	f := mustTextFixture(t, s)
	calls := slices.Concat(textWrites(s, f), textGrantWrites(s, f), textReads(s))

	for _, bad := range badTexts {
		for _, tt := range calls {
			t.Run(bad.name+"/"+tt.name, func(t *testing.T) {
				before := snapshotAll(t, s)
				err := tt.call(bad.s)
				if !checkErr(t, fmt.Sprintf("%s(%q)", tt.name, bad.s), err, tt.want) {
					return
				}

				if diff := equal(before, snapshotAll(t, s)); diff != "" {
					t.Errorf("%s(%q) changed what is stored (-before +after):\n%s",
						tt.name, bad.s, diff)
				}
				if tt.gone != nil {
					checkErr(t, tt.name+": look up what was refused", tt.gone(),
						storage.ErrNotFound)
				}
			})
		}
	}
	t.Run("fixture untouched", func(t *testing.T) {
		wantClient(t, s, "app", f.client)
		wantUser(t, s, "u-alice", f.user)
		if got := live(t, s, f.grant); got != allLive {
			t.Errorf("grant c1 = %+v, want all live", got)
		}
	})
}

// textWrites are the writes of clients, resources, keys, users and
// browsers, each with one string that is not valid text.
func textWrites(s storage.Store, f textFixture) []textCall {
	ctx := context.Background()
	getClient := func() error { return errOf(s.Client(ctx, "new")) }
	getResource := func() error { return errOf(s.Resource(ctx, "new")) }
	getUser := func() error { return errOf(s.User(ctx, "u-new")) }
	return []textCall{
		{name: "CreateClient ID", want: storage.ErrInvalid, call: func(bad string) error {
			return s.CreateClient(ctx, newClient(bad))
		}},
		{name: "CreateClient Name", want: storage.ErrInvalid, gone: getClient,
			call: func(bad string) error {
				c := newClient("new")
				c.Name = bad
				return s.CreateClient(ctx, c)
			}},
		{name: "CreateClient RedirectURIs", want: storage.ErrInvalid, gone: getClient,
			call: func(bad string) error {
				c := newClient("new")
				c.RedirectURIs = append(c.RedirectURIs, bad)
				return s.CreateClient(ctx, c)
			}},
		{name: "CreateClient Resources", want: storage.ErrInvalid, gone: getClient,
			call: func(bad string) error {
				return s.CreateClient(ctx, newClient("new", api, bad))
			}},
		{name: "UpdateClient Scopes", want: storage.ErrInvalid, call: func(bad string) error {
			c := *f.client
			c.Scopes = []string{"read", bad}
			return s.UpdateClient(ctx, &c)
		}},
		{name: "SetClientSecret", want: storage.ErrInvalid, call: func(bad string) error {
			return s.SetClientSecret(ctx, bad, []byte("hash"))
		}},
		{name: "CreateResource Identifier", want: storage.ErrInvalid, gone: getResource,
			call: func(bad string) error {
				r, creds := newResource("new", "https://new.example/"+bad)
				return s.CreateResource(ctx, r, creds)
			}},
		{name: "CreateResource credentials Name", want: storage.ErrInvalid, gone: getResource,
			call: func(bad string) error {
				r, creds := newResource("new", "https://new.example")
				creds.Name = bad
				return s.CreateResource(ctx, r, creds)
			}},
		{name: "CreateResource SigningAlgorithm", want: storage.ErrInvalid, gone: getResource,
			call: func(bad string) error {
				r, creds := newResource("new", "https://new.example")
				r.SigningAlgorithm = bad
				return s.CreateResource(ctx, r, creds)
			}},
		{name: "UpdateResource Scopes", want: storage.ErrInvalid, call: func(bad string) error {
			r, _ := newResource("r1", api)
			r.Scopes = []string{bad}
			return s.UpdateResource(ctx, r)
		}},
		{name: "InitKeys", want: storage.ErrInvalid, call: func(bad string) error {
			_, err := s.InitKeys(ctx, func() ([]*storage.Key, error) {
				k := fixtureKeys()
				k[2].Algorithm = bad
				return k, nil
			})
			return err
		}},
		{name: "UpdateKeys Add", want: storage.ErrInvalid, call: func(bad string) error {
			return updateKeys(s, &storage.KeyChanges{Add: []*storage.Key{newKey(bad, 0, 0)}})
		}},
		{name: "UpdateKeys Retire", want: storage.ErrInvalid, call: func(bad string) error {
			return updateKeys(s, &storage.KeyChanges{Retire: map[string]time.Time{bad: base}})
		}},
		{name: "UpdateKeys Reseal", want: storage.ErrInvalid, call: func(bad string) error {
			return updateKeys(s, &storage.KeyChanges{Reseal: map[string][]byte{bad: nil}})
		}},
		{name: "UpdateKeys Delete", want: storage.ErrInvalid, call: func(bad string) error {
			return updateKeys(s, &storage.KeyChanges{Delete: []string{bad}})
		}},
		{name: "CreateUser Username", want: storage.ErrInvalid, gone: getUser,
			call: func(bad string) error { return s.CreateUser(ctx, newUser("u-new", bad)) }},
		{name: "CreateUser PasswordHash", want: storage.ErrInvalid, gone: getUser,
			call: func(bad string) error {
				u := newUser("u-new", "new")
				u.PasswordHash = bad
				return s.CreateUser(ctx, u)
			}},
		{name: "UpdateUser Email", want: storage.ErrInvalid, call: func(bad string) error {
			u := *f.user
			u.Email = bad
			return s.UpdateUser(ctx, &u)
		}},
		{name: "CreateSession", want: storage.ErrInvalid, call: func(bad string) error {
			return s.CreateSession(ctx, &storage.Session{ID: bad, UserID: "u-alice",
				AuthTime: base, ExpiresAt: later()})
		}},
		{name: "CreateAuthRequest", want: storage.ErrInvalid,
			gone: func() error { return errOf(s.AuthRequest(ctx, "new")) },
			call: func(bad string) error {
				return s.CreateAuthRequest(ctx, &storage.AuthRequest{ID: "new", ClientID: "app",
					Query: "state=" + bad, CreatedAt: base, ExpiresAt: later()})
			}},
		{name: "RecordLoginFailure", want: storage.ErrInvalid, call: func(bad string) error {
			_, err := s.RecordLoginFailure(ctx, bad, base, time.Hour)
			return err
		}},
	}
}

// textGrantWrites are the writes of consents, codes and tokens, each with
// one string that is not valid text.
func textGrantWrites(s storage.Store, f textFixture) []textCall {
	ctx := context.Background()
	c := f.grant.consent
	return []textCall{
		{name: "SaveConsent Resource", want: storage.ErrInvalid, call: func(bad string) error {
			return s.SaveConsent(ctx, newConsent("new", "u-alice", "app", bad, "read"))
		}},
		{name: "SaveConsent Scopes", want: storage.ErrInvalid, call: func(bad string) error {
			return s.SaveConsent(ctx, newConsent("", "u-alice", "app", api, bad))
		}},
		{name: "CreateCode", want: storage.ErrInvalid,
			gone: func() error { return errOf(s.Code(ctx, "new")) },
			call: func(bad string) error {
				code := newCode("new", "req-new", c)
				code.RequestID = bad
				return s.CreateCode(ctx, code)
			}},
		{name: "CreateRefreshToken", want: storage.ErrInvalid,
			gone: func() error { return errOf(s.RefreshToken(ctx, "new")) },
			call: func(bad string) error {
				rt := newRefreshToken("new", "req-new", c)
				rt.AccessSignature = bad
				return s.CreateRefreshToken(ctx, rt)
			}},
		{name: "CreateAccessToken Audience", want: storage.ErrInvalid,
			gone: func() error { return errOf(s.AccessToken(ctx, "new")) },
			call: func(bad string) error {
				at := newUserToken("new", "req-new", c)
				at.Audience = []string{api, bad}
				return s.CreateAccessToken(ctx, at)
			}},
		{name: "CreateAccessToken Subject", want: storage.ErrInvalid,
			gone: func() error { return errOf(s.AccessToken(ctx, "new")) },
			call: func(bad string) error {
				at := newToken("new", "req-new", "app")
				at.Subject = bad
				return s.CreateAccessToken(ctx, at)
			}},
	}
}

// textReads are the methods that take a string as a key or a bound.
func textReads(s storage.Store) []textCall {
	ctx := context.Background()
	notFound := func(name string, get func(bad string) error) textCall {
		return textCall{name: name, call: get, want: storage.ErrNotFound}
	}
	none := func(name string, fn func(bad string) error) textCall {
		return textCall{name: name, call: fn}
	}
	invalid := func(name string, list func(bad string) error) textCall {
		return textCall{name: name, call: list, want: storage.ErrInvalid}
	}
	return []textCall{
		notFound("Client", func(b string) error { return errOf(s.Client(ctx, b)) }),
		notFound("Resource", func(b string) error { return errOf(s.Resource(ctx, b)) }),
		notFound("ResourceByIdentifier", func(b string) error {
			return errOf(s.ResourceByIdentifier(ctx, b))
		}),
		notFound("ResourceByClient", func(b string) error {
			return errOf(s.ResourceByClient(ctx, b))
		}),
		notFound("AccessToken", func(b string) error { return errOf(s.AccessToken(ctx, b)) }),
		notFound("User", func(b string) error { return errOf(s.User(ctx, b)) }),
		notFound("UserByUsername", func(b string) error { return errOf(s.UserByUsername(ctx, b)) }),
		notFound("Session", func(b string) error { return errOf(s.Session(ctx, b)) }),
		notFound("AuthRequest", func(b string) error { return errOf(s.AuthRequest(ctx, b)) }),
		notFound("ConsumeAuthRequest", func(b string) error {
			return errOf(s.ConsumeAuthRequest(ctx, b))
		}),
		notFound("Consent", func(b string) error {
			return errOf(s.Consent(ctx, "u-alice", "app", b))
		}),
		notFound("Code", func(b string) error { return errOf(s.Code(ctx, b)) }),
		notFound("RefreshToken", func(b string) error { return errOf(s.RefreshToken(ctx, b)) }),
		notFound("DeleteClient", func(b string) error { return s.DeleteClient(ctx, b) }),
		notFound("DeleteResource", func(b string) error { return s.DeleteResource(ctx, b) }),
		notFound("DeleteUser", func(b string) error { return s.DeleteUser(ctx, b) }),
		notFound("DeleteConsent", func(b string) error {
			return s.DeleteConsent(ctx, "u-alice", b)
		}),
		notFound("UseCode", func(b string) error { return s.UseCode(ctx, b) }),
		notFound("DeactivateRefreshToken", func(b string) error {
			return s.DeactivateRefreshToken(ctx, b)
		}),
		none("RevokeAccessTokens", func(b string) error { return s.RevokeAccessTokens(ctx, b) }),
		none("RevokeRefreshTokens", func(b string) error { return s.RevokeRefreshTokens(ctx, b) }),
		none("DeleteSession", func(b string) error { return s.DeleteSession(ctx, b) }),
		none("ClearLoginFailures", func(b string) error { return s.ClearLoginFailures(ctx, b) }),
		none("LoginFailures", func(b string) error {
			return zero(s.LoginFailures(ctx, b, base, time.Hour))
		}),
		none("ListConsents", func(b string) error { return noConsents(s.ListConsents(ctx, b)) }),
		none("ForgetConsent", func(b string) error {
			return s.ForgetConsent(ctx, "u-alice", "app", b)
		}),
		invalid("ListClients after", func(b string) error {
			return errOf(s.ListClients(ctx, storage.KindClient, b, 10))
		}),
		invalid("ListClients kind", func(b string) error {
			return errOf(s.ListClients(ctx, storage.ClientKind(b), "", 10))
		}),
		invalid("ListResources", func(b string) error {
			return errOf(s.ListResources(ctx, b, 10))
		}),
		invalid("ListUsers", func(b string) error { return errOf(s.ListUsers(ctx, b, 10)) }),
	}
}

// updateKeys calls UpdateKeys with an fn that returns ch.
func updateKeys(s storage.Store, ch *storage.KeyChanges) error {
	_, err := s.UpdateKeys(context.Background(), func([]*storage.Key) (*storage.KeyChanges, error) {
		return ch, nil
	})
	return err
}

// errOf drops the value a lookup returns, keeping its error.
func errOf[T any](_ T, err error) error {
	return err
}

// zero turns a count into an error unless it is zero.
func zero(n int, err error) error {
	if err == nil && n != 0 {
		return fmt.Errorf("counted %d, want 0", n)
	}
	return err
}

// noConsents turns a list of consents into an error unless it is empty.
func noConsents(list []*storage.Consent, err error) error {
	if err == nil && len(list) != 0 {
		return fmt.Errorf("listed %d consents, want none", len(list))
	}
	return err
}
