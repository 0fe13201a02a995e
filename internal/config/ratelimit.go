package config

import (
	"flag"
	"fmt"
	"math"
	"strconv"

	"github.com/veil-auth/veil/internal/ratelimit"
)

// Defaults of the rate limits, which Load applies when a variable is
// unset. They are meant never to touch legitimate use of one replica: a
// client asking for tokens without caching them, a whole office signing in
// through one address, a user who mistypes a password a few times.
var (
	// DefaultTokenClientRateLimit is per authenticated client. A load
	// of 3,600 tokens a second spread over 64 clients asks about 56 a
	// second of each.
	DefaultTokenClientRateLimit = ratelimit.Limit{Rate: 100, Burst: 200}
	// DefaultTokenFailureRateLimit is per client address. A client that
	// fails to authenticate fails again on retry; only guessing or a
	// flood needs more.
	DefaultTokenFailureRateLimit = ratelimit.Limit{Rate: 5, Burst: 50}
	// DefaultLoginAddressRateLimit is per client address, which may be
	// a proxy or NAT for many people.
	DefaultLoginAddressRateLimit = ratelimit.Limit{Rate: 5, Burst: 50}
	// DefaultLoginAccountRateLimit is per username.
	DefaultLoginAccountRateLimit = ratelimit.Limit{Rate: 1, Burst: 10}
)

// rateLimitSetting ties a rate limit's field to its variable, flag and
// default.
type rateLimitSetting struct {
	name, flag string
	limit      *ratelimit.Limit
	def        ratelimit.Limit
}

// rateLimits lists every rate limit, for loading, flags and checks alike.
func (c *Config) rateLimits() []rateLimitSetting {
	return []rateLimitSetting{
		{"VEIL_RATE_LIMIT_TOKEN_PER_CLIENT", "rate-limit-token-per-client",
			&c.TokenClientRateLimit, DefaultTokenClientRateLimit},
		{"VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS", "rate-limit-token-failures-per-address",
			&c.TokenFailureRateLimit, DefaultTokenFailureRateLimit},
		{"VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS", "rate-limit-login-per-address",
			&c.LoginAddressRateLimit, DefaultLoginAddressRateLimit},
		{"VEIL_RATE_LIMIT_LOGIN_PER_ACCOUNT", "rate-limit-login-per-account",
			&c.LoginAccountRateLimit, DefaultLoginAccountRateLimit},
	}
}

// loadRateLimits reads each limit's NAME (a rate per second) and
// NAME_BURST, falling back to the defaults.
func (c *Config) loadRateLimits(getenv func(string) string) {
	for _, l := range c.rateLimits() {
		l.limit.Rate = c.rate(getenv, l.name, l.def.Rate)
		l.limit.Burst = c.burst(getenv, l.name+"_BURST", l.def.Burst)
	}
}

// rateLimitFlags adds the flags that mirror loadRateLimits' variables.
func (c *Config) rateLimitFlags(fs *flag.FlagSet) {
	for _, l := range c.rateLimits() {
		fs.Float64Var(&l.limit.Rate, l.flag, l.limit.Rate,
			fmt.Sprintf("requests per second, 0 for no limit (%s)", l.name))
		fs.IntVar(&l.limit.Burst, l.flag+"-burst", l.limit.Burst,
			fmt.Sprintf("requests at once (%s_BURST)", l.name))
	}
}

// checkRateLimits reports rate limits that cannot be enforced: a rate
// that is negative or not a number, or a burst below one event, which
// would refuse everything.
func (c *Config) checkRateLimits() []error {
	var errs []error
	for _, l := range c.rateLimits() {
		switch {
		case !validRate(l.limit.Rate):
			errs = append(errs, errRate(l.name))
		case l.limit.Enabled() && l.limit.Burst < 1:
			errs = append(errs, fmt.Errorf("%s_BURST must be at least 1 while %s is above zero",
				l.name, l.name))
		}
	}
	return errs
}

// rate reads a rate per second, such as 100 or 0.5.
func (c *Config) rate(getenv func(string) string, name string, def float64) float64 {
	s := getenv(name)
	if s == "" {
		return def
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || !validRate(r) {
		c.problems = append(c.problems, errRate(name))
		return def
	}
	return r
}

// burst reads a whole number, 0 or more. Zero is refused by
// checkRateLimits only while the limit is on: an operator turning a limit
// off may well set both to zero.
func (c *Config) burst(getenv func(string) string, name string, def int) int {
	s := getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		c.problems = append(c.problems, fmt.Errorf("%s must be a whole number, 0 or more", name))
		return def
	}
	return n
}

func errRate(name string) error {
	return fmt.Errorf("%s must be a number of requests per second, 0 or more "+
		"(0 turns the limit off)", name)
}

func validRate(r float64) bool {
	return r >= 0 && !math.IsInf(r, 0) && !math.IsNaN(r)
}
