package loadgen

// SetTokenSeen makes a run show every access token it obtains to f.
func SetTokenSeen(c *Config, f func(string)) { c.tokenSeen = f }
