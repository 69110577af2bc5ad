package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Chromium. Under CI=true a missing browser fails the
// test (the Makefile installs it); elsewhere the test is skipped with a note.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required under CI=true (make test installs it with apt-get install chromium)")
	}
	t.Skip("Chromium not installed; run `make test` (it installs Chromium) to include the browser tests")
	return ""
}

// startBrowser starts headless Chromium for one test; the returned context
// ends with the test.
func startBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: not in -short")
	}
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	if _, err := chromedp.Run(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); cancelB(); cancelA() })
	return ctx
}

// newTab opens a tab in a browser context of its own (its own storage, as a
// different device), and logs the page's uncaught exceptions and console
// errors into the test log.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	var (
		mu   sync.Mutex
		done bool // guarded by mu: the test ended, t.Log may no longer be called
	)
	logEvent := func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			line = "page exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				line += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning && os.Getenv("SPIN_TEST_LOG") == "" {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			line = "page console " + string(ev.Type) + ": " + strings.Join(parts, " ")
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Log(line)
		}
	}
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(logEvent))
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
		cancel()
	})
	// The first Run ties the tab's life to tab (later steps use shorter children).
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return tab
}

// TestBrowserSpinMatchVote drives the real web page in headless Chromium:
// two tabs sign up as a man seeking women and a woman seeking men, spin,
// are matched, chat over the WebRTC data channel the server signals for,
// vote yes, and both see the mutual result.
func TestBrowserSpinMatchVote(t *testing.T) {
	ctx := startBrowser(t, 60*time.Second)
	cfg := testConfig(t)
	cfg.Actors.DateLength, cfg.Actors.VoteWindow = 60*time.Second, 10*time.Second // room to chat
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	tab1, tab2 := newTab(t, ctx), newTab(t, ctx)

	do := func(tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(tab context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	signUp := func(tab context.Context, name, gender, seeking string) {
		t.Helper()
		do(tab, name+" signs up",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(css(`[data-testid=onboard-name]`)),
			chromedp.SendKeys(css(`[data-testid=onboard-name]`), name),
			chromedp.Click(css(`[data-testid=onboard-gender-`+gender+`]`)),
			chromedp.Click(css(`[data-testid=onboard-seeking-`+seeking+`]`)),
			chromedp.Click(css(`[data-testid=onboard-submit]`)),
			chromedp.WaitVisible(css(`body[data-state=idle] [data-testid=spin-button]`)),
		)
	}
	signUp(tab1, "Mia", "female", "male")
	signUp(tab2, "Leo", "male", "female")

	do(tab1, "Mia spins",
		chromedp.Click(css(`[data-testid=spin-button]`)),
		chromedp.WaitVisible(css(`body[data-state=queued] [data-testid=waiting-view]`)),
	)
	if eta, reason := text(tab1, `[data-testid=eta-text]`), text(tab1, `[data-testid=eta-reason]`); eta == "" || reason == "" {
		t.Fatalf("waiting view shows no estimate: eta %q reason %q", eta, reason)
	}

	start := time.Now()
	do(tab2, "Leo spins",
		chromedp.Click(css(`[data-testid=spin-button]`)),
		chromedp.WaitVisible(css(`body[data-state=matched] [data-testid=match-card]`)),
	)
	do(tab1, "Mia is matched", chromedp.WaitVisible(css(`body[data-state=matched] [data-testid=match-card]`)))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("match shown after %v", d)
	}
	if p1, p2 := text(tab1, `[data-testid=partner-name]`), text(tab2, `[data-testid=partner-name]`); !strings.Contains(p1, "Leo") || !strings.Contains(p2, "Mia") {
		t.Fatalf("partners %q / %q", p1, p2)
	}

	// Chat over the WebRTC data channel, signalled through the server.
	do(tab1, "Mia chats",
		chromedp.WaitEnabled(css(`[data-testid=chat-input]`)),
		chromedp.SendKeys(css(`[data-testid=chat-input]`), "hello from Mia"),
		chromedp.Click(css(`[data-testid=chat-send]`)),
	)
	if _, err := chromedp.Run(tab2, chromedp.Poll[bool](`document.querySelector('[data-testid=chat-log]').textContent.includes('hello from Mia')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("chat message did not arrive: %v", err)
	}

	do(tab1, "Mia votes", chromedp.Click(css(`[data-testid=vote-yes]`)))
	do(tab2, "Leo votes", chromedp.Click(css(`[data-testid=vote-yes]`)))
	for i, tab := range []context.Context{tab1, tab2} {
		do(tab, "result", chromedp.WaitVisible(css(`body[data-state=result] [data-testid=result-text]`)))
		if r := text(tab, `[data-testid=result-text]`); !strings.Contains(strings.ToLower(r), "match") {
			t.Fatalf("tab %d result text %q", i+1, r)
		}
	}
	// No error toasts along the way.
	if n, err := chromedp.Run(tab1, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=toast-stack] .toast-error').length`)); err != nil || n > 0 {
		t.Errorf("error toasts: %d (%v)", n, err)
	}
}
