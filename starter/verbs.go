package main

import (
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

func (c *cli) start(args []string) error {
	fs, co := c.flags("start")
	file := fs.String("file", "", "bill JSON (the POST /v1/bills body); - reads stdin; field flags override it")
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
	}
	approvals := fs.String("approvals", "", "comma-separated approval roles in order; \"none\" = no approval")
	fs.String("image-mode", "", "none|basic|match|submitter")
	fs.String("deduction", "", "none|immediate|batch")
	autoSubmit := fs.String("auto-submit", "", "true|false (default true: the first import submits)")
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError("args", "start takes flags or --file, not arguments")
	}

	var in workflows.BillInput
	if *file != "" {
		body, err := c.readInput(*file)
		if err != nil {
			return err
		}
		decoded, e := api.DecodeStart(body)
		if e != nil {
			return e
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
			return api.ValidationFailed(map[string]string{"--auto-submit": "must be true or false"})
		}
		in.Options.AutoSubmit = &v
	}
	// One validation path for flags and files: the API's own decoder.
	body, _ := json.Marshal(in)
	in, e := api.DecodeStart(body)
	if e != nil {
		if *file == "" {
			return renameFields(e, startFlagNames(e.Fields))
		}
		return e
	}
	bills, err := c.bills(co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	resp, created, err := bills.Start(ctx, in)
	if err != nil {
		return err
	}
	printJSON(c.stdout, startOutput{Created: created, StartResponse: resp})
	return nil
}

// startFlagNames maps the input's JSON names to the flags that set them, for errors.
func startFlagNames(fields map[string]string) map[string]string {
	names := map[string]string{"billId": "--bill-id", "billNo": "--bill-no", "billType": "--bill-type",
		"resource": "--resource", "billTaxNo": "--tax-no", "orgNumber": "--org-number", "userId": "--user-id",
		"pushType": "--push-type", "options.imageMode": "--image-mode", "options.deduction": "--deduction"}
	for k := range fields {
		if strings.HasPrefix(k, "options.approvals") {
			names[k] = "--approvals"
		}
	}
	return names
}

func flagValue(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

// billVerb parses the common flags and the bill, then connects.
func (c *cli) billVerb(name string, args []string, fs *flag.FlagSet, co *common) (*api.Bills, api.BillRef, error) {
	positional, err := c.parse(fs, args)
	if err != nil {
		return nil, api.BillRef{}, err
	}
	ref, err := co.ref(positional)
	if err != nil {
		return nil, api.BillRef{}, err
	}
	bills, err := c.bills(co)
	return bills, ref, err
}

// answer prints a bill state or the error.
func (c *cli) answer(v any, err error) error {
	if err != nil {
		return err
	}
	printJSON(c.stdout, v)
	return nil
}

func (c *cli) status(args []string) error {
	fs, co := c.flags("status")
	bills, ref, err := c.billVerb("status", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.State(ctx, ref))
}

func (c *cli) url(args []string) error {
	fs, co := c.flags("url")
	kind := fs.String("client", "pc", "pc or mobile")
	bills, ref, err := c.billVerb("url", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.CollectURL(ctx, ref, *kind))
}

func (c *cli) invoices(args []string) error {
	fs, co := c.flags("invoices")
	file := fs.String("file", "", "the socket payload {\"invoiceData\":[…]}; - reads stdin")
	bills, ref, err := c.billVerb("invoices", args, fs, co)
	if err != nil {
		return err
	}
	if *file == "" {
		return usageError("--file", "required: the payload to forward")
	}
	body, err := c.readInput(*file)
	if err != nil {
		return err
	}
	sig, e := api.DecodeForward(body)
	if e != nil {
		return renameFields(e, map[string]string{"body": "--file"})
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.Invoices(ctx, ref, sig))
}

func (c *cli) viewURL(args []string) error {
	fs, co := c.flags("view-url")
	kind := fs.String("client", "pc", "pc or mobile")
	bills, ref, err := c.billVerb("view-url", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.ViewURL(ctx, ref, *kind))
}

func (c *cli) remove(args []string) error {
	fs, co := c.flags("remove")
	var req workflows.RemoveInvoiceRequest
	fs.StringVar(&req.SerialNo, "serial-no", "", "the invoice's serialNo (required)")
	fs.StringVar(&req.Reason, "reason", "", "why it leaves the bill (required)")
	bills, ref, err := c.billVerb("remove", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	st, err := bills.RemoveInvoice(ctx, ref, req)
	if e := api.ErrorFrom(err); e != nil && e.Status == 400 {
		return renameFields(e, map[string]string{"serialNo": "--serial-no", "reason": "--reason"})
	}
	return c.answer(st, err)
}

func (c *cli) amend(args []string) error {
	fs, co := c.flags("amend")
	file := fs.String("file", "", "the amend JSON (PATCH body); - reads stdin; field flags override it")
	for _, f := range []struct{ flag, usage string }{
		{"bill-no", "the ERP's bill number"}, {"bill-type", "bill type"}, {"tax-no", "tax number of the bill's company"},
		{"org-number", "organisation number"}, {"user-id", "the user collecting invoices"}, {"reason", "why (required)"},
	} {
		fs.String(f.flag, "", f.usage)
	}
	bills, ref, err := c.billVerb("amend", args, fs, co)
	if err != nil {
		return err
	}
	var req workflows.AmendRequest
	if *file != "" {
		if err := c.decodeFile(*file, &req); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, dst := range map[string]**string{"bill-no": &req.BillNo, "bill-type": &req.BillType, "tax-no": &req.BillTaxNo,
		"org-number": &req.OrgNumber, "user-id": &req.UserID} {
		if set[name] {
			v := flagValue(fs, name)
			*dst = &v
		}
	}
	if set["reason"] {
		req.Reason = flagValue(fs, "reason")
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	st, err := bills.Amend(ctx, ref, req)
	if e := api.ErrorFrom(err); e != nil && e.Status == 400 && *file == "" {
		return renameFields(e, map[string]string{"billNo": "--bill-no", "billType": "--bill-type", "billTaxNo": "--tax-no",
			"orgNumber": "--org-number", "userId": "--user-id", "reason": "--reason"})
	}
	return c.answer(st, err)
}

func (c *cli) submit(args []string) error {
	fs, co := c.flags("submit")
	by := fs.String("by", "", "who submits")
	bills, ref, err := c.billVerb("submit", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	req := workflows.SubmitRequest{By: *by}
	if e := stamp(&req); e != nil {
		return e
	}
	return c.answer(bills.Submit(ctx, ref, req))
}

// decideVerb is approve, reject and return: one approval update with that decision.
func decideVerb(decision string) func(*cli, []string) error {
	return func(c *cli, args []string) error {
		fs, co := c.flags(decision)
		var req workflows.ApproveRequest
		fs.StringVar(&req.Role, "role", "", "the approval role deciding (supervisor, finance, …)")
		fs.StringVar(&req.Approver, "approver", "", "who decides")
		fs.StringVar(&req.Comment, "comment", "", "optional comment")
		bills, ref, err := c.billVerb(decision, args, fs, co)
		if err != nil {
			return err
		}
		req.Decision = decision
		if e := stamp(&req); e != nil {
			return e
		}
		ctx, cancel := c.withTimeout(co)
		defer cancel()
		return c.answer(bills.Approve(ctx, ref, req))
	}
}

func (c *cli) images(args []string) error {
	fs, co := c.flags("images")
	file := fs.String("file", "", "the ImagesRequest JSON; - reads stdin")
	scan := fs.String("scan-bill-no", "", "the scanning station's bill number")
	nos := fs.String("invoice-nos", "", "comma-separated invoice numbers scanned")
	bills, ref, err := c.billVerb("images", args, fs, co)
	if err != nil {
		return err
	}
	req := workflows.ImagesRequest{ScanBillNo: *scan}
	if *nos != "" {
		req.InvoiceNos = strings.Split(*nos, ",")
	}
	if *file != "" {
		if err := c.decodeFile(*file, &req); err != nil {
			return err
		}
	}
	if e := stamp(&req); e != nil {
		return e
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.Images(ctx, ref, req))
}

func (c *cli) voucher(args []string) error {
	fs, co := c.flags("voucher")
	file := fs.String("file", "", "the VoucherRequest JSON; - reads stdin")
	var req workflows.VoucherRequest
	fs.StringVar(&req.VouchID, "vouch-id", "", "voucher id")
	fs.StringVar(&req.VouchNo, "vouch-no", "", "voucher number")
	fs.StringVar(&req.AccountDate, "account-date", "", "accounting period date yyyy-MM-dd")
	fs.StringVar(&req.AccountTime, "account-time", "", "accounting date yyyy-MM-dd")
	fs.StringVar(&req.BusinessDate, "business-date", "", "business date yyyy-MM-dd")
	fs.StringVar(&req.Resource, "voucher-resource", "", "voucher source system, e.g. SAP")
	bills, ref, err := c.billVerb("voucher", args, fs, co)
	if err != nil {
		return err
	}
	if *file != "" {
		if err := c.decodeFile(*file, &req); err != nil {
			return err
		}
	}
	if e := stamp(&req); e != nil {
		return e
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.Voucher(ctx, ref, req))
}

func (c *cli) cancel(args []string) error {
	fs, co := c.flags("cancel")
	var req workflows.CancelRequest
	fs.StringVar(&req.Reason, "reason", "", "why the bill is cancelled")
	fs.StringVar(&req.By, "by", "", "who cancels")
	bills, ref, err := c.billVerb("cancel", args, fs, co)
	if err != nil {
		return err
	}
	if e := stamp(&req); e != nil {
		return e
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.Cancel(ctx, ref, req))
}

func (c *cli) retry(args []string) error {
	fs, co := c.flags("retry")
	by := fs.String("by", "", "who retries")
	bills, ref, err := c.billVerb("retry", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	req := workflows.RetryRequest{By: *by}
	if e := stamp(&req); e != nil {
		return e
	}
	return c.answer(bills.Retry(ctx, ref, req))
}

func (c *cli) resolve(args []string) error {
	fs, co := c.flags("resolve")
	by := fs.String("by", "", "who resolves (required)")
	reason := fs.String("reason", "", "why it is resolved by hand (required)")
	done := fs.String("done", "", "what was done at the cloud by hand (required)")
	bills, ref, err := c.billVerb("resolve", args, fs, co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	req := workflows.ResolveRequest{By: *by, Reason: *reason, Done: *done}
	if e := stamp(&req); e != nil {
		return e
	}
	return c.answer(bills.Resolve(ctx, ref, req))
}

func (c *cli) list(args []string) error {
	fs, co := c.flags("list")
	q := map[string]*string{}
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
		if f.flag == "overdue" {
			// A bool-style flag: bare --overdue means true, --overdue=false is allowed too.
			v := &optionalBool{}
			fs.Var(v, f.flag, f.usage)
			q[f.param] = &v.value
			continue
		}
		q[f.param] = fs.String(f.flag, "", f.usage)
	}
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError("args", "list takes flags only")
	}
	values := map[string][]string{}
	for k, v := range q {
		if *v != "" {
			values[k] = []string{*v}
		}
	}
	// The API's parser names bad parameters; translate them back to flag names for the shell.
	filter, e := api.ParseListFilter(values)
	if e != nil {
		return renameFields(e, map[string]string{"taxNo": "--tax-no", "awaitingRole": "--awaiting-role",
			"billNo": "--bill-no", "pageSize": "--page-size", "pageToken": "--page-token", "stage": "--stage",
			"overdue": "--overdue", "resource": "--resource", "updatedSince": "--updated-since", "sort": "--sort"})
	}
	bills, err := c.bills(co)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(co)
	defer cancel()
	return c.answer(bills.List(ctx, filter))
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

// stamp records the CLI as the client of a decision, and the person its flags name as the user.
func stamp(req any) error {
	if e := api.Stamp(workflows.Actor{Client: api.CLIClient}, req); e != nil {
		return e
	}
	return nil
}

// optionalBool is a flag that may stand alone (true) or carry a value; the value is checked by the
// API's list parser, so a bad one is named like any other bad filter.
type optionalBool struct{ value string }

func (b *optionalBool) String() string     { return b.value }
func (b *optionalBool) Set(v string) error { b.value = v; return nil }
func (b *optionalBool) IsBoolFlag() bool   { return true }
