package config_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/ratelimit"
)

// rateLimits is the part of Config this file tests.
type rateLimits struct {
	TokenClient, TokenFailure, LoginAddress, LoginAccount ratelimit.Limit
}

func rateLimitsOf(c *config.Config) rateLimits {
	return rateLimits{c.TokenClientRateLimit, c.TokenFailureRateLimit,
		c.LoginAddressRateLimit, c.LoginAccountRateLimit}
}

func TestLoadRateLimits(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want rateLimits
	}{
		{
			name: "defaults",
			want: rateLimits{
				TokenClient:  ratelimit.Limit{Rate: 100, Burst: 200},
				TokenFailure: ratelimit.Limit{Rate: 5, Burst: 50},
				LoginAddress: ratelimit.Limit{Rate: 5, Burst: 50},
				LoginAccount: ratelimit.Limit{Rate: 1, Burst: 10},
			},
		},
		{
			name: "everything set",
			env: map[string]string{
				"VEIL_RATE_LIMIT_TOKEN_PER_CLIENT":                 "250",
				"VEIL_RATE_LIMIT_TOKEN_PER_CLIENT_BURST":           "500",
				"VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS":       "0.5",
				"VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS_BURST": "3",
				"VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS":                "0",
				"VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS_BURST":          "0",
				"VEIL_RATE_LIMIT_LOGIN_PER_ACCOUNT":                "0.1",
			},
			want: rateLimits{
				TokenClient:  ratelimit.Limit{Rate: 250, Burst: 500},
				TokenFailure: ratelimit.Limit{Rate: 0.5, Burst: 3},
				LoginAddress: ratelimit.Limit{Rate: 0, Burst: 0},
				LoginAccount: ratelimit.Limit{Rate: 0.1, Burst: 10},
			},
		},
		{
			name: "flags win",
			env:  map[string]string{"VEIL_RATE_LIMIT_TOKEN_PER_CLIENT": "250"},
			args: []string{"-rate-limit-token-per-client", "0", "-rate-limit-login-per-account-burst", "3"},
			want: rateLimits{
				TokenClient:  ratelimit.Limit{Rate: 0, Burst: 200},
				TokenFailure: ratelimit.Limit{Rate: 5, Burst: 50},
				LoginAddress: ratelimit.Limit{Rate: 5, Burst: 50},
				LoginAccount: ratelimit.Limit{Rate: 1, Burst: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, rateLimitsOf(c)); diff != "" {
				t.Errorf("Load(%v, %v) mismatch (-want +got):\n%s", tt.env, tt.args, diff)
			}
		})
	}
}

func TestRateLimitRules(t *testing.T) {
	const (
		client  = "VEIL_RATE_LIMIT_TOKEN_PER_CLIENT"
		failure = "VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS"
		address = "VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS"
		account = "VEIL_RATE_LIMIT_LOGIN_PER_ACCOUNT"
	)
	tests := []struct {
		name string
		env  map[string]string
		// want are fragments the error must hold.
		want []string
	}{
		{name: "negative rate", env: map[string]string{client: "-1"},
			want: []string{client + " must be a number of requests per second, 0 or more"}},
		{name: "rate not a number", env: map[string]string{failure: "lots"},
			want: []string{failure + " must be a number"}},
		{name: "infinite rate", env: map[string]string{address: "+Inf"},
			want: []string{address + " must be a number"}},
		{name: "NaN rate", env: map[string]string{account: "NaN"},
			want: []string{account + " must be a number"}},
		{name: "zero burst while on", env: map[string]string{account + "_BURST": "0"},
			want: []string{account + "_BURST must be at least 1 while " + account + " is above zero"}},
		{name: "negative burst", env: map[string]string{client + "_BURST": "-5"},
			want: []string{client + "_BURST must be a whole number, 0 or more"}},
		{name: "fractional burst", env: map[string]string{address + "_BURST": "2.5"},
			want: []string{address + "_BURST must be a whole number"}},
		{name: "every problem at once",
			env:  map[string]string{client: "-1", failure + "_BURST": "x", address: "y", account + "_BURST": "0"},
			want: []string{client + " must", failure + "_BURST must", address + " must", account + "_BURST must"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(nil, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want errors mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// TestRateLimitsSetInCode checks the rules on a Config built in code,
// where a zero Limit is off and nothing went through the parser.
func TestRateLimitsSetInCode(t *testing.T) {
	c, err := config.Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.TokenClientRateLimit = ratelimit.Limit{}
	c.LoginAccountRateLimit = ratelimit.Limit{}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() with limits off = %v, want nil", err)
	}

	c.TokenFailureRateLimit = ratelimit.Limit{Rate: math.Inf(1), Burst: 1}
	c.LoginAddressRateLimit = ratelimit.Limit{Rate: 1}
	err = c.Validate()
	for _, w := range []string{"VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS must be",
		"VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS_BURST must be at least 1"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to mention %q", err, w)
		}
	}
}
