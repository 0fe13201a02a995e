package server_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/pgtest"
)

// chromiumPath finds Debian's chromium: VEIL_CHROMIUM, else the PATH. The
// test fails in CI when it is missing (the test script installs it), and is
// skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VEIL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found; the test script installs it (.ci/ensure-chromium)")
	}
	t.Skip("chromium not installed; run the tests through make test")
	return ""
}

// TestRealBrowser drives headless Chromium through the login and consent
// pages: it loads the authorization URL, fills in the login form, clicks
// Allow, lands on the client's redirect URI with a code, and the code
// redeems.
func TestRealBrowser(t *testing.T) {
	exe := chromiumPath(t)
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	web := in.createApp(true, "read", loopRedirect)
	in.createUser(userName, userPassword)

	codes := make(chan url.Values, 1)
	callback := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case codes <- r.URL.Query():
		default:
		}
		_, _ = w.Write([]byte("<!doctype html><title>done</title><p id=done>signed in</p>"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = callback.Serve(ln) }()
	t.Cleanup(func() { callback.Close() })
	web.cfg.RedirectURL = "http://" + ln.Addr().String() + "/cb"

	ctx := newChromium(t, exe)
	verifier := oauth2.GenerateVerifier()
	var consentText string
	err = chromedp.Run(ctx,
		chromedp.Navigate(web.authURL("browser-state", verifier, "read")),
		chromedp.WaitVisible(`#username`, chromedp.ByID),
		chromedp.SendKeys(`#username`, userName, chromedp.ByID),
		chromedp.SendKeys(`#password`, userPassword, chromedp.ByID),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`button[value=allow]`, chromedp.ByQuery),
		chromedp.Text(`main`, &consentText, chromedp.ByQuery),
		screenshot("consent"),
		chromedp.Click(`button[value=allow]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#done`, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("browser flow: %v", err)
	}
	for _, want := range []string{"Example App", apiA, "read", userName} {
		if !strings.Contains(consentText, want) {
			t.Errorf("consent page text %q lacks %q", consentText, want)
		}
	}

	var q url.Values
	select {
	case q = <-codes:
	case <-time.After(10 * time.Second):
		t.Fatal("the browser never reached the redirect URI")
	}
	if q.Get("state") != "browser-state" || q.Get("code") == "" {
		t.Fatalf("redirect query = %v, want a code and the state", q)
	}
	tok, err := web.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() of the browser's code = %v", err)
	}
	if got := in.introspect(rs, tok.AccessToken).json(t); got["active"] != true {
		t.Errorf("introspect = %v, want active", got)
	}
}

func newChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing
	// there for a moment after the browser exits, which would fail the
	// test in cleanup. The directory is removed with a few retries.
	profile, err := os.MkdirTemp("", "veil-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// This chromedp release does not know every event of the installed
	// Chromium; the unknown ones are irrelevant here and not worth a line.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// screenshot saves the page when VEIL_SCREENSHOTS names a directory, so a
// person can look at what the test saw.
func screenshot(name string) chromedp.Action {
	dir := os.Getenv("VEIL_SCREENSHOTS")
	if dir == "" {
		return chromedp.ActionFunc(func(context.Context) error { return nil })
	}
	var buf []byte
	return chromedp.Tasks{
		chromedp.FullScreenshot(&buf, 100),
		chromedp.ActionFunc(func(context.Context) error {
			return os.WriteFile(dir+"/"+name+".png", buf, 0o644)
		}),
	}
}
