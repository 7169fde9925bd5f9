package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"rimflow/devstack/harness"
	"rimflow/systest/skips"
	"rimflow/systest/testenv"
	"rimflow/workflows"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// requireBrowser, set to 1 (as .ci/run does), turns a missing browser into a failure.
const requireBrowser = "RIMFLOW_REQUIRE_BROWSER"

// RequireChromium skips the test without Chromium, or fails it where a browser is required (CI).
func RequireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(requireBrowser) == "1" || os.Getenv("CI") != "" {
			// .ci/run installs Chromium and sets RIMFLOW_REQUIRE_BROWSER=1: in CI a missing browser
			// is a failure, never a silent skip.
			t.Fatalf("no browser, and %s=1 (or CI) requires one: %s not found (%v)", requireBrowser, chromiumPath, err)
		}
		skips.Skip(t, fmt.Sprintf("no browser: %s not found", chromiumPath), "apt-get install -y chromium (Debian's; .ci/run does)")
	}
}

// codecBanner is what Temporal Web 2.55 shows when a call to the codec server fails.
const codecBanner = "Codec Server could not connect"

// webStep bounds one wait in the browser: Web renders after its own API calls and the codec's.
const webStep = 60 * time.Second

// WebShowsBillDecoded is ops reading a bill in Temporal Web, in headless Chromium: the bill's page
// shows no codec error, its input in clear (the billNo), the summary and the Markdown details
// rendered from decoded payloads, and the event history's payloads decoded; a signal sent from
// Web's form (its input encoded through the codec server) reaches the bill. With an API token
// (access clients) Web cannot decode until the person signs in at the codec server's login page:
// first the banner, then the sign-in, then the decoded bill.
func (s *Suite) WebShowsBillDecoded(t *testing.T) {
	if s.Target.WebURL == "" {
		t.Fatal("the target runs no Temporal Web")
	}
	RequireChromium(t)
	id := "E2E-WEB"
	if s.Target.Token != "" {
		id = "E2E-WEB-SIGNIN"
	}
	a := s.MustStart(t, id)
	s.Collect(t, a, 1)
	billNo := harness.DemoBill(id).BillNo

	var described struct {
		Info struct {
			Execution struct {
				RunID string `json:"runId"`
			} `json:"execution"`
		} `json:"workflowExecutionInfo"`
	}
	s.call(t, "GET", s.Target.WebURL+"/api/v1/namespaces/default/workflows/"+url.PathEscape(a.WorkflowID), nil, &described)
	base := s.Target.WebURL + "/namespaces/default/workflows/" + url.PathEscape(a.WorkflowID) + "/" + described.Info.Execution.RunID
	page := base + "/history"

	b := newChromium(t, s.Ctx)
	if s.Target.Token != "" {
		// Not signed in: every decode is refused (401), Web says so and shows the input sealed.
		b.open(t, page)
		b.waitText(t, codecBanner)
		if strings.Contains(b.text(t), `"billNo": "`+billNo+`"`) {
			t.Fatalf("Web shows the input of %s before anyone signed in at the codec server", billNo)
		}
		b.open(t, s.Target.APIURL+"/v1/codec/login")
		// The signed-in page offers to sign out.
		b.do(t, "sign in", chromedp.SendKeys(chromedp.CSS(`input[name=token]`), s.Target.Token), chromedp.Submit(chromedp.CSS(`input[name=token]`)),
			chromedp.WaitReady(chromedp.CSS(`form[action=logout]`)))
		b.waitText(t, "Signed in as")
	}

	b.open(t, page)
	b.waitText(t, `"billNo": "`+billNo+`"`) // the Input card, decoded
	if text := b.text(t); strings.Contains(text, codecBanner) {
		t.Fatalf("Web shows the codec error on the bill's page: %.1500s", text)
	}

	// User Metadata: the start summary and the current details, each Markdown Web renders in a
	// frame of its own: the bill's line in bold, the invoice count as a list item.
	b.open(t, base+"/user-metadata")
	frame := func(id string) string {
		return `(document.querySelector('#` + id + `')?.contentDocument?.body?.innerHTML ?? '')`
	}
	b.poll(t, "the start summary", frame("user-metadata-summary")+`.includes(`+js("<p>bill "+a.ID+" ("+billNo+")</p>")+`)`)
	b.poll(t, "the Markdown details", frame("user-metadata-current-details")+`.includes(`+js("<strong>Bill "+billNo+"</strong>")+`) && `+
		frame("user-metadata-current-details")+`.includes('<li>Invoices: 1,')`)

	// The event history: the start event's own view shows its input decoded.
	b.open(t, base+"/history/events/1")
	b.waitText(t, "Workflow Execution Started")
	b.waitText(t, `"billNo": "`+billNo+`"`)
	if text := b.text(t); strings.Contains(text, "binary/encrypted") || strings.Contains(text, codecBanner) {
		t.Fatalf("Web's view of the start event holds a payload it did not decode: %.1500s", text)
	}

	// The ops path: cancel from Web's "Send a Signal" form (the signals are listed by the bill's
	// metadata). Web encodes the input through the codec server (encode, the same session)
	// before it signals; the bill records it as the ops path.
	b.open(t, page)
	b.waitText(t, billNo)
	reason := "cancelled by ops in Temporal Web"
	// Web renders the workflow's actions once per layout, each with its own form; only the shown
	// one is used, as a person sees it.
	const signalForm = `[...document.querySelectorAll('[data-testid="signal-confirmation-modal"]')].find(m => m.open && m.getClientRects().length > 0)`
	b.poll(t, "the Send a Signal form", `(() => {
		for (const item of document.querySelectorAll('[data-testid="signal-button"]')) {
			if (`+signalForm+`) break;
			item.click();
		}
		return !!(`+signalForm+`)?.querySelector('[data-testid="signal-select-button"]');
	})()`)
	b.poll(t, "the signal's name", `(() => {
		const modal = `+signalForm+`;
		const option = [...modal.querySelectorAll('li[role=option]')].find(o => o.querySelector('span')?.textContent.trim() === `+js(workflows.SignalCancel)+`);
		if (!option) { modal.querySelector('[data-testid="signal-select-button"]').click(); return false; }
		option.click();
		return modal.querySelector('#signal-select').value === `+js(workflows.SignalCancel)+`;
	})()`)
	// The input as a person types it into the JSON editor (inserted, as a paste is, so the editor's
	// bracket closing does not double the braces).
	b.poll(t, "the signal's input editor", `(() => {
		const editor = (`+signalForm+`).querySelector('[role=textbox][aria-label=Data]');
		editor?.focus();
		return !!editor && document.activeElement === editor;
	})()`)
	b.do(t, "type the signal's input", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: `{"reason":"` + reason + `"}`})
		return err
	}))
	b.poll(t, "the signal's input, submitted", `(() => {
		const modal = `+signalForm+`;
		const submit = modal.querySelector('[data-testid="confirm-modal-button"]');
		if (!modal.querySelector('[role=textbox][aria-label=Data]').innerText.includes(`+js(reason)+`) || !submit || submit.disabled) return false;
		submit.click();
		return true;
	})()`)
	b.waitText(t, "Workflow signaled.")
	st := s.WaitStage(t, a.ID, workflows.StageCancelled)
	if st.Cancel == nil || st.Cancel.Reason != reason || st.Cancel.Actor == nil || st.Cancel.Actor.Client != workflows.OpsPath {
		t.Fatalf("Web's cancel is recorded as %+v, want %q through %s", st.Cancel, reason, workflows.OpsPath)
	}
}

// chromium is one headless Chromium tab driven by chromedp.
type chromium struct {
	ctx context.Context
}

func newChromium(t *testing.T, ctx context.Context) *chromium {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, with no deadline of its own (a deadline would stop it).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &chromium{ctx: bctx}
}

// do runs the steps, each wait bounded by webStep.
func (c *chromium) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, webStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v; the page shows: %.1500s", what, err, c.text(t))
	}
}

func (c *chromium) open(t *testing.T, u string) {
	t.Helper()
	c.do(t, "open "+u, chromedp.Navigate(u))
}

// text is the rendered text of the page.
func (c *chromium) text(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, webStep)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

// poll waits until the script is truthy on the page (a single-page app renders after load).
func (c *chromium) poll(t *testing.T, what, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, webStep+5*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](script, chromedp.WithPollingTimeout(webStep), chromedp.WithPollingInterval(200*time.Millisecond)))
		if err == nil {
			return
		}
		// A navigation (a form posted, Web's own redirect) ends the page's script context under
		// the poll: poll again on the new page, within the same bound.
		if ctx.Err() == nil && strings.Contains(err.Error(), "context with specified id") {
			continue
		}
		t.Fatalf("%s: %v; the page shows: %.1500s", what, err, c.text(t))
	}
}

func (c *chromium) waitText(t *testing.T, want string) {
	t.Helper()
	c.poll(t, "the page never showed "+want, `document.body && document.body.innerText.includes(`+js(want)+`)`)
}

// js is s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// CLIShowsBillDecoded is ops at a shell, as the runbook says: `temporal workflow describe` and
// `temporal workflow show` with --codec-endpoint (and --codec-auth where the API has clients)
// print the bill decoded: the start summary names it, and the history's start input holds its
// billNo in clear. Without the codec both stay sealed.
func (s *Suite) CLIShowsBillDecoded(t *testing.T) {
	cli := s.Target.CLI
	if cli == nil || cli.Path == "" {
		testenv.RequireTemporalCLI(t) // skips without the CLI installed (fails under CI)
		t.Fatal("the target did not configure the temporal CLI for its server")
	}
	a := s.MustStart(t, "E2E-CLI-CODEC")
	billNo := harness.DemoBill("E2E-CLI-CODEC").BillNo
	codecArgs := []string{"--codec-endpoint", s.Target.APIURL + "/v1/codec"}
	if s.Target.Token != "" {
		codecArgs = append(codecArgs, "--codec-auth", "Bearer "+s.Target.Token)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := cli.Run(s.Ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	summary := "bill " + a.ID + " (" + billNo + ")"
	if out := run("workflow", "describe", "--workflow-id", a.WorkflowID); strings.Contains(out, summary) {
		t.Fatalf("without the codec, describe prints the summary in clear:\n%s", out)
	}
	if out := run(append([]string{"workflow", "describe", "--workflow-id", a.WorkflowID}, codecArgs...)...); !strings.Contains(out, summary) {
		t.Fatalf("describe with the codec does not print the summary %q:\n%s", summary, out)
	}
	startInput := func(out string) string {
		t.Helper()
		var h struct {
			Events []struct {
				Attrs *struct {
					Input struct {
						Payloads []struct {
							Data []byte `json:"data"`
						} `json:"payloads"`
					} `json:"input"`
				} `json:"workflowExecutionStartedEventAttributes"`
			} `json:"events"`
		}
		if err := json.Unmarshal([]byte(out), &h); err != nil || len(h.Events) == 0 || h.Events[0].Attrs == nil || len(h.Events[0].Attrs.Input.Payloads) == 0 {
			t.Fatalf("temporal workflow show -o json: %v: %.500s", err, out)
		}
		return string(h.Events[0].Attrs.Input.Payloads[0].Data)
	}
	show := []string{"workflow", "show", "--workflow-id", a.WorkflowID, "--output", "json"}
	if in := startInput(run(show...)); strings.Contains(in, billNo) {
		t.Fatalf("without the codec, show prints the start input in clear: %.300s", in)
	}
	if in := startInput(run(append(show, codecArgs...)...)); !strings.Contains(in, `"billNo":"`+billNo+`"`) {
		t.Fatalf("show with the codec does not print the start input in clear: %.300s", in)
	}
}
