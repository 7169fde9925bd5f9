// Command starter is the ERP side of rimflow: `starter serve` runs the HTTP API, and
// `starter <verb>` does the same operations from a shell, printing JSON.
//
// Both talk to Temporal through api.Bills (the connection comes from the RIMFLOW_TEMPORAL_*
// variables), so a verb and its HTTP route are the same code. It never embeds a Temporal server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"rimflow/api"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // Temporal, the bill or the cloud refused or failed
	exitBadArgs = 2 // the input was wrong: nothing was sent
)

// verb is one sub-command.
type verb struct {
	name    string
	summary string
	run     func(c *cli, args []string) error
}

func verbs() []verb {
	return []verb{
		{"serve", "run the HTTP API (flags: --addr)", (*cli).serve},
		onBills("start", "start a bill (field flags, or --file bill.json / --file - for stdin)",
			"start takes flags or --file, not arguments", startRequest, start),
		onBill("status", "print the bill's state", noRequest, state),
		onBill("url", "print a collect URL valid now (--client pc|mobile)", pageClient, (*api.Bills).CollectURL),
		onBill("view-url", "print a view page URL valid now, any stage (--client pc|mobile)", pageClient, (*api.Bills).ViewURL),
		onBill("invoices", "forward a socket payload to the bill (--file payload.json | -)", forwardRequest, (*api.Bills).Invoices),
		onBill("remove", "take an invoice off a collecting or failed bill (--serial-no --reason)", removeRequest, removeInvoice),
		onBill("amend", "correct a failed bill's header (--tax-no --bill-no … --reason | --file), then retry", readAmend, amend),
		onBill("submit", "end collecting", submitRequest, (*api.Bills).Submit),
		onBill("approve", "approve for a role (--role --approver [--comment])", decision("approve"), (*api.Bills).Approve),
		onBill("reject", "reject (--role --approver [--comment])", decision("reject"), (*api.Bills).Approve),
		onBill("return", "return to collecting (--role --approver [--comment])", decision("return"), (*api.Bills).Approve),
		onBill("images", "report scanned images (--scan-bill-no --invoice-nos a,b | --file)", imagesRequest, (*api.Bills).Images),
		onBill("voucher", "save the voucher (--vouch-id --vouch-no --account-date … | --file)", voucherRequest, (*api.Bills).Voucher),
		onBill("reverse-voucher", "take the booked voucher back within the bill's reversal window, 反记账 (--vouch-id --by --reason)", reversalRequest, (*api.Bills).ReverseVoucher),
		onBill("cancel", "cancel the bill (--reason)", cancelRequest, (*api.Bills).Cancel),
		onBill("retry", "re-run the failed step", retryRequest, (*api.Bills).Retry),
		onBill("resolve", "close a failed compensation by hand, audited (--by --reason --done)", resolveRequest, (*api.Bills).Resolve),
		onBills("list", "find bills (--stage --tax-no --overdue --awaiting-role --bill-no)", "list takes flags only", listRequest, (*api.Bills).List),
		{"enterprises", "the enterprise registry: `enterprises list`, or `enterprises check` (log in to each)", (*cli).enterprises},
		{"version", "print this build's release version, source revision and build ID", (*cli).version},
		{"codec-keys", "create the payload key file if missing (--file), or add a fresh key on top (--rotate ID)", (*cli).codecKeys},
		{"check-secrets", "refuse an unset, placeholder or short deployment password among the named variables (compose runs it before PostgreSQL and Grafana)", (*cli).checkSecrets},
	}
}

// run is the whole program, in-process testable: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	defer c.close()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	for _, v := range verbs() {
		if v.name == args[0] {
			return c.finish(v.run(c, args[1:]))
		}
	}
	return c.finish(usageError("verb", fmt.Sprintf("unknown verb %q; run `starter help`", args[0])))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: starter <verb> [R/B | --resource R --bill B] [flags]")
	fmt.Fprintln(w, "\nverbs:")
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-12s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w, "\nevery verb also takes --timeout (how long to wait for an answer).")
	fmt.Fprintln(w, "Temporal is reached through RIMFLOW_TEMPORAL_ADDRESS, RIMFLOW_TEMPORAL_NAMESPACE, RIMFLOW_TASK_QUEUE, …")
	fmt.Fprintln(w, "Output is JSON on stdout; errors are JSON on stderr with a non-zero exit code.")
}

// finish prints the error (JSON on stderr) and picks the exit code.
func (c *cli) finish(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	e := api.ErrorFrom(err)
	if e.Code == api.CodeInternal {
		// The CLI's user is the operator: say what went wrong (config, dial…); the API hides this.
		e = &api.Error{Status: e.Status, Code: e.Code, Message: err.Error()}
	}
	printJSON(c.stderr, api.ErrorBody{Error: e})
	if e.Status == 400 || e.Status == 413 {
		return exitBadArgs
	}
	return exitFailed
}

func usageError(field, msg string) *api.Error {
	return &api.Error{Status: 400, Code: "usage", Message: msg, Fields: map[string]string{field: msg}}
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
