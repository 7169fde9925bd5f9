package main

import (
	"context"
	"encoding/json"
	"flag"
	"maps"
	"slices"
	"strconv"
	"strings"

	"rimflow/api"
	"rimflow/workflows"
)

// startOutput is POST /v1/bills's body plus whether this call created the bill (pending, set
// when the eventCode did not come in time, is the API's 202).
type startOutput struct {
	Created bool `json:"created"`
	api.StartResponse
}

func startRequest(c *cli, fs *flag.FlagSet) func() (workflows.BillInput, error) {
	file := fs.String("file", "", "bill JSON (the POST /v1/bills body); - reads stdin; field flags override it")
	// The input's JSON names → the flags that set them, for errors.
	names := map[string]string{"options.imageMode": "--image-mode", "options.deduction": "--deduction"}
	for _, f := range []struct{ flag, json, usage string }{
		{"bill-id", "billId", "the ERP's bill id"},
		{"bill-no", "billNo", "the ERP's bill number"},
		{"bill-type", "billType", "bill type, e.g. er_dailyreimbursebill"},
		{"resource", "resource", "source system (≤ 10 characters)"},
		{"tax-no", "billTaxNo", "tax number of the bill's company"},
		{"org-number", "orgNumber", "organisation number"},
		{"user-id", "userId", "the user collecting invoices"},
		{"push-type", "pushType", "socket (default) or poll"},
	} {
		fs.String(f.flag, "", f.usage+" (JSON "+f.json+")")
		names[f.json] = "--" + f.flag
	}
	approvals := fs.String("approvals", "", "comma-separated approval roles in order; \"none\" = no approval")
	fs.String("image-mode", "", "none|basic|match|submitter")
	fs.String("deduction", "", "none|immediate|batch")
	autoSubmit := fs.String("auto-submit", "", "true|false (default true: the first import submits)")
	return func() (workflows.BillInput, error) {
		var in workflows.BillInput
		if *file != "" {
			body, err := c.readInput(*file)
			if err != nil {
				return in, err
			}
			decoded, e := api.DecodeStart(body)
			if e != nil {
				return in, e
			}
			in = decoded
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*string{
			"bill-id": &in.BillID, "bill-no": &in.BillNo, "bill-type": &in.BillType, "resource": &in.Resource,
			"tax-no": &in.BillTaxNo, "org-number": &in.OrgNumber, "user-id": &in.UserID, "push-type": &in.PushType,
			"image-mode": &in.Options.ImageMode, "deduction": &in.Options.Deduction,
		} {
			if set[name] {
				*v = flagValue(fs, name)
			}
		}
		if set["approvals"] {
			in.Options.Approvals = []string{}
			if *approvals != "none" && *approvals != "" {
				in.Options.Approvals = strings.Split(*approvals, ",")
			}
		}
		if set["auto-submit"] {
			v, err := strconv.ParseBool(*autoSubmit)
			if err != nil {
				return in, api.ValidationFailed(map[string]string{"--auto-submit": "must be true or false"})
			}
			in.Options.AutoSubmit = &v
		}
		// One validation path for flags and files: the API's own decoder.
		body, _ := json.Marshal(in)
		in, e := api.DecodeStart(body)
		if e != nil {
			if *file == "" {
				for k := range e.Fields {
					if strings.HasPrefix(k, "options.approvals") {
						names[k] = "--approvals"
					}
				}
				return in, renameFields(e, names)
			}
			return in, e
		}
		return in, nil
	}
}

func start(b *api.Bills, ctx context.Context, in workflows.BillInput) (startOutput, error) {
	resp, created, err := b.Start(ctx, in)
	return startOutput{Created: created, StartResponse: resp}, err
}

func flagValue(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

// onBill makes a verb that names one bill and is one call of api.Bills: request declares the
// verb's own flags and returns what reads them, once parsed, into the request; call runs it; the
// answer is printed as JSON. The bill is named and Temporal dialled before the request is read.
func onBill[Req, Resp any](name, summary string, request func(c *cli, fs *flag.FlagSet) func() (Req, error),
	call func(b *api.Bills, ctx context.Context, ref api.BillRef, req Req) (Resp, error)) verb {
	return verb{name, summary, func(c *cli, args []string) error {
		fs, co := c.flags(name)
		read := request(c, fs)
		positional, err := c.parse(fs, args)
		if err != nil {
			return err
		}
		ref, err := co.ref(positional)
		if err != nil {
			return err
		}
		bills, err := c.bills(co)
		if err != nil {
			return err
		}
		req, err := read()
		if err != nil {
			return err
		}
		ctx, cancel := c.withTimeout(co)
		defer cancel()
		return c.answer(call(bills, ctx, ref, req))
	}}
}

// onBills makes a verb that names no bill (start, list): it takes flags only (stray arguments are
// refused with strayArgs), and its request is read and checked before Temporal is dialled.
func onBills[Req, Resp any](name, summary, strayArgs string, request func(c *cli, fs *flag.FlagSet) func() (Req, error),
	call func(b *api.Bills, ctx context.Context, req Req) (Resp, error)) verb {
	return verb{name, summary, func(c *cli, args []string) error {
		fs, co := c.flags(name)
		read := request(c, fs)
		positional, err := c.parse(fs, args)
		if err != nil {
			return err
		}
		if len(positional) > 0 {
			return usageError("args", strayArgs)
		}
		req, err := read()
		if err != nil {
			return err
		}
		bills, err := c.bills(co)
		if err != nil {
			return err
		}
		ctx, cancel := c.withTimeout(co)
		defer cancel()
		return c.answer(call(bills, ctx, req))
	}}
}

// answer prints a bill state or the error.
func (c *cli) answer(v any, err error) error {
	if err != nil {
		return err
	}
	printJSON(c.stdout, v)
	return nil
}

// noRequest is a verb without flags of its own.
func noRequest(*cli, *flag.FlagSet) func() (struct{}, error) {
	return func() (struct{}, error) { return struct{}{}, nil }
}

func state(b *api.Bills, ctx context.Context, ref api.BillRef, _ struct{}) (workflows.BillState, error) {
	return b.State(ctx, ref)
}

// pageClient is --client of url and view-url.
func pageClient(_ *cli, fs *flag.FlagSet) func() (string, error) {
	kind := fs.String("client", "pc", "pc or mobile")
	return func() (string, error) { return *kind, nil }
}

func forwardRequest(c *cli, fs *flag.FlagSet) func() (workflows.InvoicesSignal, error) {
	file := fs.String("file", "", "the socket payload {\"invoiceData\":[…]}; - reads stdin")
	return func() (workflows.InvoicesSignal, error) {
		if *file == "" {
			return workflows.InvoicesSignal{}, usageError("--file", "required: the payload to forward")
		}
		body, err := c.readInput(*file)
		if err != nil {
			return workflows.InvoicesSignal{}, err
		}
		sig, e := api.DecodeForward(body)
		if e != nil {
			return workflows.InvoicesSignal{}, renameFields(e, map[string]string{"body": "--file"})
		}
		return sig, nil
	}
}

func removeRequest(_ *cli, fs *flag.FlagSet) func() (workflows.RemoveInvoiceRequest, error) {
	var req workflows.RemoveInvoiceRequest
	fs.StringVar(&req.SerialNo, "serial-no", "", "the invoice's serialNo (required)")
	fs.StringVar(&req.Reason, "reason", "", "why it leaves the bill (required)")
	return func() (workflows.RemoveInvoiceRequest, error) { return req, nil }
}

func removeInvoice(b *api.Bills, ctx context.Context, ref api.BillRef, req workflows.RemoveInvoiceRequest) (workflows.Decision, error) {
	st, err := b.RemoveInvoice(ctx, ref, req)
	return st, flagFields(err, map[string]string{"serialNo": "--serial-no", "reason": "--reason"})
}

// flagFields renames the fields of a 400 answer to the flags that set them.
func flagFields(err error, names map[string]string) error {
	if e := api.ErrorFrom(err); e != nil && e.Status == 400 {
		return renameFields(e, names)
	}
	return err
}

// amendRequest is the PATCH body, and whether it came from a file (then its errors keep the
// body's field names).
type amendRequest struct {
	req      workflows.AmendRequest
	fromFile bool
}

func readAmend(c *cli, fs *flag.FlagSet) func() (amendRequest, error) {
	file := fs.String("file", "", "the amend JSON (PATCH body); - reads stdin; field flags override it")
	for _, f := range []struct{ flag, usage string }{
		{"bill-no", "the ERP's bill number"}, {"bill-type", "bill type"}, {"tax-no", "tax number of the bill's company"},
		{"org-number", "organisation number"}, {"user-id", "the user collecting invoices"}, {"reason", "why (required)"},
	} {
		fs.String(f.flag, "", f.usage)
	}
	return func() (amendRequest, error) {
		a := amendRequest{fromFile: *file != ""}
		if a.fromFile {
			if err := c.decodeFile(*file, &a.req); err != nil {
				return a, err
			}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, dst := range map[string]**string{"bill-no": &a.req.BillNo, "bill-type": &a.req.BillType, "tax-no": &a.req.BillTaxNo,
			"org-number": &a.req.OrgNumber, "user-id": &a.req.UserID} {
			if set[name] {
				v := flagValue(fs, name)
				*dst = &v
			}
		}
		if set["reason"] {
			a.req.Reason = flagValue(fs, "reason")
		}
		return a, nil
	}
}

func amend(b *api.Bills, ctx context.Context, ref api.BillRef, a amendRequest) (workflows.Decision, error) {
	st, err := b.Amend(ctx, ref, a.req)
	if a.fromFile {
		return st, err
	}
	return st, flagFields(err, map[string]string{"billNo": "--bill-no", "billType": "--bill-type", "billTaxNo": "--tax-no",
		"orgNumber": "--org-number", "userId": "--user-id", "reason": "--reason"})
}

func submitRequest(_ *cli, fs *flag.FlagSet) func() (workflows.SubmitRequest, error) {
	by := fs.String("by", "", "who submits")
	return func() (workflows.SubmitRequest, error) { return stamped(workflows.SubmitRequest{By: *by}) }
}

// decision is approve, reject and return: one approval update with that decision.
func decision(name string) func(*cli, *flag.FlagSet) func() (workflows.ApproveRequest, error) {
	return func(_ *cli, fs *flag.FlagSet) func() (workflows.ApproveRequest, error) {
		var req workflows.ApproveRequest
		fs.StringVar(&req.Role, "role", "", "the approval role deciding (supervisor, finance, …)")
		fs.StringVar(&req.Approver, "approver", "", "who decides")
		fs.StringVar(&req.Comment, "comment", "", "optional comment")
		return func() (workflows.ApproveRequest, error) {
			req.Decision = name
			return stamped(req)
		}
	}
}

func imagesRequest(c *cli, fs *flag.FlagSet) func() (workflows.ImagesRequest, error) {
	file := fs.String("file", "", "the ImagesRequest JSON; - reads stdin")
	scan := fs.String("scan-bill-no", "", "the scanning station's bill number")
	nos := fs.String("invoice-nos", "", "comma-separated invoice numbers scanned")
	return func() (workflows.ImagesRequest, error) {
		req := workflows.ImagesRequest{ScanBillNo: *scan}
		if *nos != "" {
			req.InvoiceNos = strings.Split(*nos, ",")
		}
		return fileOver(c, *file, req)
	}
}

func voucherRequest(c *cli, fs *flag.FlagSet) func() (workflows.VoucherRequest, error) {
	file := fs.String("file", "", "the VoucherRequest JSON; - reads stdin")
	var req workflows.VoucherRequest
	fs.StringVar(&req.VouchID, "vouch-id", "", "voucher id")
	fs.StringVar(&req.VouchNo, "vouch-no", "", "voucher number")
	fs.StringVar(&req.AccountDate, "account-date", "", "accounting period date yyyy-MM-dd")
	fs.StringVar(&req.AccountTime, "account-time", "", "accounting date yyyy-MM-dd")
	fs.StringVar(&req.BusinessDate, "business-date", "", "business date yyyy-MM-dd")
	fs.StringVar(&req.Resource, "voucher-resource", "", "voucher source system, e.g. SAP")
	return func() (workflows.VoucherRequest, error) { return fileOver(c, *file, req) }
}

// fileOver decodes --file, if given, over what the flags set, and stamps the decision.
func fileOver[Req any](c *cli, file string, req Req) (Req, error) {
	if file != "" {
		if err := c.decodeFile(file, &req); err != nil {
			return req, err
		}
	}
	return stamped(req)
}

func cancelRequest(_ *cli, fs *flag.FlagSet) func() (workflows.CancelRequest, error) {
	var req workflows.CancelRequest
	fs.StringVar(&req.Reason, "reason", "", "why the bill is cancelled")
	fs.StringVar(&req.By, "by", "", "who cancels")
	return func() (workflows.CancelRequest, error) { return stamped(req) }
}

func reversalRequest(_ *cli, fs *flag.FlagSet) func() (workflows.VoucherReversalRequest, error) {
	var req workflows.VoucherReversalRequest
	fs.StringVar(&req.VouchID, "vouch-id", "", "the voucher booked on the bill (required)")
	fs.StringVar(&req.By, "by", "", "who reverses it")
	fs.StringVar(&req.Reason, "reason", "", "why it is taken back (required)")
	return func() (workflows.VoucherReversalRequest, error) { return stamped(req) }
}

func retryRequest(_ *cli, fs *flag.FlagSet) func() (workflows.RetryRequest, error) {
	by := fs.String("by", "", "who retries")
	return func() (workflows.RetryRequest, error) { return stamped(workflows.RetryRequest{By: *by}) }
}

func resolveRequest(_ *cli, fs *flag.FlagSet) func() (workflows.ResolveRequest, error) {
	var req workflows.ResolveRequest
	fs.StringVar(&req.By, "by", "", "who resolves (required)")
	fs.StringVar(&req.Reason, "reason", "", "why it is resolved by hand (required)")
	fs.StringVar(&req.Done, "done", "", "what was done at the cloud by hand (required)")
	return func() (workflows.ResolveRequest, error) { return stamped(req) }
}

func listRequest(_ *cli, fs *flag.FlagSet) func() (api.ListFilter, error) {
	q := map[string]*string{}
	names := map[string]string{} // query parameter → its flag, for errors
	for _, f := range []struct{ flag, param, usage string }{
		{"stage", "stage", "bill stage, e.g. awaiting_finance"},
		{"tax-no", "taxNo", "the bill's tax number"},
		{"overdue", "overdue", "true or false"},
		{"awaiting-role", "awaitingRole", "the role the bill waits for"},
		{"bill-no", "billNo", "the ERP's bill number"},
		{"resource", "resource", "source system"},
		{"page-size", "pageSize", "1 to 1000"},
		{"updated-since", "updatedSince", "only bills changed since this RFC 3339 instant"},
		{"sort", "sort", "updatedAt, -updatedAt, startedAt or -startedAt"},
		{"page-token", "pageToken", "nextPageToken of the previous page"},
	} {
		names[f.param] = "--" + f.flag
		if f.flag == "overdue" {
			// A bool-style flag: bare --overdue means true, --overdue=false is allowed too.
			v := &optionalBool{}
			fs.Var(v, f.flag, f.usage)
			q[f.param] = &v.value
			continue
		}
		q[f.param] = fs.String(f.flag, "", f.usage)
	}
	return func() (api.ListFilter, error) {
		values := map[string][]string{}
		for k, v := range q {
			if *v != "" {
				values[k] = []string{*v}
			}
		}
		// The API's parser names bad parameters; translate them back to flag names for the shell.
		filter, e := api.ParseListFilter(values)
		if e != nil {
			return filter, renameFields(e, names)
		}
		return filter, nil
	}
}

func renameFields(e *api.Error, names map[string]string) *api.Error {
	out := *e
	out.Fields = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		name := k
		if n, ok := names[k]; ok {
			name = n
		}
		out.Fields[name] = e.Fields[k]
	}
	return &out
}

// decodeFile strictly decodes a decision's JSON file into v (over any values flags set); like the
// API, it refuses `actor`.
func (c *cli) decodeFile(file string, v any) error {
	body, err := c.readInput(file)
	if err != nil {
		return err
	}
	if e := api.DecodeDecision(body, v); e != nil {
		return e
	}
	return nil
}

// stamped records the CLI as the client of a decision, and the person its flags name as the user.
func stamped[Req any](req Req) (Req, error) {
	if e := api.Stamp(workflows.Actor{Client: api.CLIClient}, &req); e != nil {
		return req, e
	}
	return req, nil
}

// optionalBool is a flag that may stand alone (true) or carry a value; the value is checked by the
// API's list parser, so a bad one is named like any other bad filter.
type optionalBool struct{ value string }

func (b *optionalBool) String() string     { return b.value }
func (b *optionalBool) Set(v string) error { b.value = v; return nil }
func (b *optionalBool) IsBoolFlag() bool   { return true }
