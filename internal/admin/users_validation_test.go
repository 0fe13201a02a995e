package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// Which routes a validation row applies to.
const (
	onPost = 1 << iota
	onPut
	onBoth = onPost | onPut
)

// userCases has one row per user rule. Bad values hold "zq" so that a
// description echoing them is caught; bad passwords are caught by value.
// Each row is applied to a valid POST body and to a valid PUT body.
var userCases = []struct {
	name   string
	routes int
	change []any // members to set, or remove when nil, as for with
}{
	{"username missing", onBoth, []any{"username", nil}},
	{"username empty", onBoth, []any{"username", ""}},
	{"username too long", onBoth, []any{"username", "zq" + strings.Repeat("u", 63)}},
	{"username leading space", onBoth, []any{"username", " zq"}},
	{"username trailing space", onBoth, []any{"username", "zq "}},
	{"username inner space", onBoth, []any{"username", "zq zq"}},
	{"username tab", onBoth, []any{"username", "zq\t"}},
	{"username newline", onBoth, []any{"username", "zq\n"}},
	{"username nul", onBoth, []any{"username", "zq\x00"}},
	{"username no-break space", onBoth, []any{"username", "zq\u00a0"}},
	{"username ideographic space", onBoth, []any{"username", "zq\u3000"}},
	{"username line separator", onBoth, []any{"username", "zq\u2028"}},
	{"username zero-width space", onBoth, []any{"username", "zq\u200b"}},
	{"username bidi override", onBoth, []any{"username", "zq\u202e"}},
	{"username private use", onBoth, []any{"username", "zq\ue000"}},
	{"username wrong type", onBoth, []any{"username", 7}},
	{"email no at", onBoth, []any{"email", "zq"}},
	{"email no domain", onBoth, []any{"email", "zq@"}},
	{"email no local part", onBoth, []any{"email", "@zq.example"}},
	{"email display name", onBoth, []any{"email", "Zq <zq@mail.example>"}},
	{"email angle brackets", onBoth, []any{"email", "<zq@mail.example>"}},
	{"email comment", onBoth, []any{"email", "zq@mail.example (zq)"}},
	{"email quoted local part", onBoth, []any{"email", `"zq zq"@mail.example`}},
	{"email two addresses", onBoth, []any{"email", "zq@a.example, zq@b.example"}},
	{"email trailing newline", onBoth, []any{"email", "zq@mail.example\n"}},
	{"email leading space", onBoth, []any{"email", " zq@mail.example"}},
	{"email too long", onBoth, []any{"email", "zq@" + strings.Repeat("d", 252)}},
	{"email wrong type", onBoth, []any{"email", []string{"zq@mail.example"}}},
	{"password missing", onPost, []any{"password", nil}},
	{"password null", onPost, []any{"password", "null"}},
	{"password empty", onBoth, []any{"password", ""}},
	{"password seven characters", onBoth, []any{"password", "zqzqzq7"}},
	{"password four emoji", onBoth, []any{"password", "zq🔑🔑"}},
	{"password too long", onBoth, []any{"password", "zq" + strings.Repeat("p", 1023)}},
	{"password wrong type", onBoth, []any{"password", 12345678}},
	{"disabled missing", onPut, []any{"disabled", nil}},
	{"disabled wrong type", onPut, []any{"disabled", "zq"}},
	{"disabled on create", onPost, []any{"disabled", true}},
	{"id given", onBoth, []any{"id", "zq"}},
	{"password hash given", onBoth, []any{"password_hash", "$argon2id$zq"}},
	{"case-folded member", onBoth, []any{"Username", "zq"}},
}

// testUserValidation checks that every rule refuses with 400
// invalid_request, stores nothing, and repeats neither the bad value nor
// the password in its description.
func testUserValidation(t *testing.T, e *env) {
	existing := e.createUser(userBody())
	putBody := map[string]any{"username": "alice", "email": "", "disabled": false}
	reasons := make(map[string]string)
	for _, tt := range userCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct {
				on           int
				method, path string
				body         map[string]any
			}{
				{onPost, http.MethodPost, "/admin/users", userBody()},
				{onPut, http.MethodPut, "/admin/users/" + existing.ID, putBody},
			} {
				if tt.routes&route.on == 0 {
					continue
				}
				body := rowBody(route.body, tt.change)
				before := e.contents()
				got := e.do(route.method, route.path, body).
					wantError(t, http.StatusBadRequest, "invalid_request")
				pw, _ := body["password"].(string)
				if strings.Contains(got.Description, "zq") ||
					len(pw) > 3 && strings.Contains(got.Description, pw) {
					t.Errorf("%s: description %q repeats the input", route.method, got.Description)
				}
				e.wantUnchanged(before)
				reasons[tt.name] = got.Error + ": " + got.Description
			}
		})
	}
	// The golden file shows that each row fails for the rule it names.
	goldenValue(t, "user_validation.json", reasons)
}

// rowBody applies a row's change to a copy of body. The string "null"
// stands for JSON null, which with cannot express.
func rowBody(body map[string]any, change []any) map[string]any {
	out := with(body, change...)
	for k, v := range out {
		if v == "null" {
			out[k] = nil
		}
	}
	return out
}

// testPasswordNeverShown checks that no password, and no hash of one,
// reaches a response body or the log, whether it was accepted or refused.
func testPasswordNeverShown(t *testing.T, e *env) {
	const (
		first   = "first-password-zq-1"
		second  = "second-password-zq-2"
		refused = "zq-3"
	)
	var bodies []byte
	keep := func(r response) response { bodies = append(bodies, r.body...); return r }

	var u userJSON
	keep(e.do(http.MethodPost, "/admin/users", with(userBody(), "password", first))).
		want(t, http.StatusCreated, &u)
	put := map[string]any{"username": "alice", "password": second, "disabled": false}
	keep(e.do(http.MethodPut, "/admin/users/"+u.ID, put)).want(t, http.StatusOK, nil)
	keep(e.do(http.MethodPut, "/admin/users/"+u.ID, with(put, "password", refused))).
		wantError(t, http.StatusBadRequest, "invalid_request")
	bob := with(userBody(), "username", "bob", "password", refused)
	keep(e.do(http.MethodPost, "/admin/users", bob)).
		wantError(t, http.StatusBadRequest, "invalid_request")
	keep(e.do(http.MethodPost, "/admin/users", with(userBody(), "password", second))).
		wantError(t, http.StatusConflict, "conflict")
	for _, path := range []string{"/admin/users", "/admin/users/" + u.ID} {
		keep(e.do(http.MethodGet, path, nil)).want(t, http.StatusOK, nil)
	}
	keep(e.do(http.MethodPost, "/admin/users/"+u.ID+"/disable", nil)).want(t, http.StatusOK, nil)
	keep(e.do(http.MethodDelete, "/admin/users/"+u.ID, nil)).want(t, http.StatusNoContent, nil)

	logs := e.logs.String()
	for what, s := range map[string]string{"responses": string(bodies), "log": logs} {
		for _, secret := range []string{first, second, refused, "argon2", "password_hash"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s hold %q", what, secret)
			}
		}
	}
	for _, want := range []string{
		`msg="user created" user_id=` + u.ID + " username=alice",
		`msg="user updated" user_id=` + u.ID + " disabled=false password_changed=true",
		`msg="user disabled" user_id=` + u.ID,
		`msg="user deleted" user_id=` + u.ID,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
