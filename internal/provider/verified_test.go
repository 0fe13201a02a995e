package provider

import (
	"fmt"
	"testing"
	"time"
)

func TestVerifiedTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var v verifiedTokens
	if v.has("sig", "jti", now) {
		t.Fatal("an empty set has a token")
	}
	v.add("sig", "jti", now.Add(time.Minute), now)

	tests := []struct {
		name, sig, jti string
		at             time.Time
		want           bool
	}{
		{"the same token before it expires", "sig", "jti", now.Add(59 * time.Second), true},
		{"at its expiry", "sig", "jti", now.Add(time.Minute), false},
		{"another token", "other", "jti", now, false},
		{"a record with another jti", "sig", "other", now, false},
	}
	for _, tt := range tests {
		if got := v.has(tt.sig, tt.jti, tt.at); got != tt.want {
			t.Errorf("%s: has = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var v verifiedTokens
	for i := range verifiedLimit {
		v.add(fmt.Sprint("expired-", i), "jti", now.Add(time.Second), now)
	}
	later := now.Add(time.Hour)
	v.add("live", "jti", later.Add(time.Minute), later)
	if len(v.m) != 1 || !v.has("live", "jti", later) {
		t.Fatalf("after the set filled with expired tokens: %d kept, live one kept %v; want only the live one",
			len(v.m), v.has("live", "jti", later))
	}

	for i := range verifiedLimit + 1 {
		v.add(fmt.Sprint("live-", i), "jti", later.Add(time.Hour), later)
	}
	if n := len(v.m); n > verifiedLimit {
		t.Fatalf("set holds %d tokens, limit %d", n, verifiedLimit)
	}
}
