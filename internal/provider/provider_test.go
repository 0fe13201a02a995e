package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{name: "veil error", err: errInvalidTarget("x"), code: "invalid_target", status: 400},
		{name: "veil error wrapped by fosite", err: fosite.ErrServerError.WithWrap(errCodeUsed), code: "invalid_grant", status: 400},
		{name: "fosite invalid_client", err: fosite.ErrInvalidClient, code: "invalid_client", status: 401},
		{name: "fosite invalid_state", err: fosite.ErrInvalidState, code: "invalid_request", status: 400},
		{name: "storage unavailable", err: fositeError(storage.ErrUnavailable), code: "temporarily_unavailable", status: 503},
		{
			name:   "storage unavailable under fosite's server_error",
			err:    fosite.ErrServerError.WithWrap(fositeError(storage.ErrUnavailable)).WithDebug("rollback failed"),
			code:   "temporarily_unavailable",
			status: 503,
		},
		{
			name:   "storage deadline, wrapped",
			err:    fmt.Errorf("record access token: %w", fmt.Errorf("%w: %w", storage.ErrUnavailable, context.DeadlineExceeded)),
			code:   "temporarily_unavailable",
			status: 503,
		},
		{name: "storage not found under server_error", err: fosite.ErrServerError.WithWrap(storage.ErrNotFound), code: "server_error", status: 500},
		{name: "plain error", err: errors.New("boom"), code: "server_error", status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status, desc := Describe(tt.err)
			if code != tt.code || status != tt.status || desc == "" {
				t.Errorf("Describe(%v) = %q, %d, %q, want %q, %d and a description", tt.err, code, status, desc, tt.code, tt.status)
			}
		})
	}
}

func TestValidClientID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"vHEmJIK2MWVEIc3OKzrxtw", true},
		{"a.b~c-d_e", true},
		{"", false},
		{"with space", false},
		{"nul\x00", false},
		{"\xe9", false},
		{string(make([]byte, 129)), false},
	}
	for _, tt := range tests {
		if got := validClientID(tt.id); got != tt.ok {
			t.Errorf("validClientID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}

func TestGrantableScopes(t *testing.T) {
	c := Client{&storage.Client{Scopes: []string{"read", "write", "offline_access"}, GrantTypes: []string{"authorization_code", "refresh_token"}}}
	res := &storage.Resource{Scopes: []string{"read", "admin"}}
	tests := []struct {
		name         string
		requested    []string
		allowOffline bool
		want         []string
		wantErr      bool
	}{
		{name: "default is the shared scopes", want: []string{"read"}},
		{name: "requested and allowed", requested: []string{"read", "read"}, want: []string{"read"}},
		{name: "client lacks it", requested: []string{"admin"}, wantErr: true},
		{name: "resource lacks it", requested: []string{"write"}, wantErr: true},
		{name: "offline_access in the code flow", requested: []string{"read", "offline_access"}, allowOffline: true, want: []string{"offline_access", "read"}},
		{name: "offline_access with client credentials", requested: []string{"offline_access"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := grantableScopes(c, res, tt.requested, tt.allowOffline)
			if (err != nil) != tt.wantErr || !cmp.Equal(got, tt.want) {
				t.Errorf("grantableScopes(%v) = %v, %v, want %v (error %v)", tt.requested, got, err, tt.want, tt.wantErr)
			}
			if err != nil {
				if code, status, _ := Describe(err); code != "invalid_scope" || status != http.StatusBadRequest {
					t.Errorf("grantableScopes(%v) error = %s %d, want invalid_scope 400", tt.requested, code, status)
				}
			}
		})
	}
}
