package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// schemaGen derives OpenAPI 3.0 schemas from the Go types the handlers really decode and encode,
// so the document cannot drift from the wire format.
type schemaGen struct {
	components map[string]any
	names      map[reflect.Type]string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{components: map[string]any{}, names: map[reflect.Type]string{}}
}

var (
	typeTime     = reflect.TypeOf(time.Time{})
	typeDecimal  = reflect.TypeOf(decimal.Decimal{})
	typeDuration = reflect.TypeOf(workflows.Duration(0))
	typeStage    = reflect.TypeOf(workflows.Stage(""))
	typeRaw      = reflect.TypeOf(json.RawMessage(nil))
	typeForward  = reflect.TypeOf(workflows.InvoicesSignal{})
)

// schema returns the schema of v's type: a $ref for named structs, inline otherwise.
func (g *schemaGen) schema(v any) map[string]any {
	return g.of(reflect.TypeOf(v))
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	switch t {
	case typeTime:
		return map[string]any{"type": "string", "format": "date-time", "example": "2026-11-30T08:00:00.123Z",
			"description": "RFC 3339 in UTC, to the millisecond (the API's one precision)"}
	case typeDecimal:
		return map[string]any{"type": "string", "format": "decimal", "example": "100.00",
			"description": "decimal amount as a string"}
	case typeDuration:
		return map[string]any{"example": "48h",
			"description": "Go duration (\"48h\", \"30m\"); a number of seconds is also accepted",
			"anyOf":       []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	case typeStage:
		// A bill's approval roles are its own (options.approvals), so awaiting_<role> is open-ended:
		// the known stages are an enum, any other role's stage matches the pattern.
		return map[string]any{"example": string(workflows.StageCollecting),
			"description": "collecting, awaiting_<role> (awaiting_supervisor, awaiting_finance…), image_review, " +
				"awaiting_voucher, deducting, completed, rejected, cancelled, failed",
			"anyOf": []any{
				map[string]any{"type": "string", "enum": knownStageNames()},
				map[string]any{"type": "string", "pattern": "^awaiting_[a-z][a-z0-9_]{0,31}$"},
			}}
	case typeRaw:
		return map[string]any{}
	case typeForward:
		return g.forwardSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.of(t.Elem())
		if _, isRef := s["$ref"]; isRef {
			return s
		}
		out := map[string]any{"nullable": true}
		for k, v := range s {
			out[k] = v
		}
		return out
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	// A Go slice or map is null when nil, in answers, and the server takes null for one in requests.
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.of(t.Elem()), "nullable": true}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem()), "nullable": true}
	case reflect.Struct:
		return g.ref(t)
	}
	return map[string]any{}
}

// ref registers a named struct as a component once and points at it.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name, ok := g.names[t]
	if !ok {
		name = t.Name()
		if name == "" {
			return g.object(t)
		}
		for _, taken := range g.names {
			if taken == name {
				name = pkgName(t) + name
				break
			}
		}
		g.names[t] = name
		g.components[name] = map[string]any{} // placeholder: recursive types terminate
		g.components[name] = g.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	p = p[strings.LastIndex(p, "/")+1:]
	if p == "" {
		return ""
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// requestRequired are the fields a request body cannot do without (the rest is optional or
// defaulted); the validators are the authority, this documents them. These types are decoded
// strictly, so their schemas also refuse other properties. Types that only answer have every
// field without omitempty required (always present).
var requestRequired = map[reflect.Type][]string{
	reflect.TypeOf(workflows.BillInput{}):              {"billId", "billNo", "billType", "resource", "billTaxNo", "userId"},
	reflect.TypeOf(workflows.Options{}):                nil,
	reflect.TypeOf(workflows.SLAs{}):                   nil,
	reflect.TypeOf(invoicecloud.Company{}):             {"taxNo", "name"},
	reflect.TypeOf(workflows.ApproveRequest{}):         {"role", "decision"}, // approver: the X-Acting-User header may name the person
	reflect.TypeOf(workflows.VoucherRequest{}):         {"vouchId", "vouchNo", "accountDate", "accountTime", "businessDate", "resource"},
	reflect.TypeOf(workflows.CancelRequest{}):          {"reason"},
	reflect.TypeOf(workflows.ResolveRequest{}):         {"by", "reason", "done"},
	reflect.TypeOf(workflows.ImagesRequest{}):          {"scanBillNo"},
	reflect.TypeOf(workflows.AmendRequest{}):           {"reason"},
	reflect.TypeOf(workflows.SubmitRequest{}):          nil,
	reflect.TypeOf(workflows.RetryRequest{}):           nil,
	reflect.TypeOf(workflows.WithdrawRequest{}):        {"reason"},
	reflect.TypeOf(workflows.VoucherReversalRequest{}): {"vouchId", "reason"}, // by: the X-Acting-User header may name the person
	reflect.TypeOf(workflows.Actor{}):                  nil,
	reflect.TypeOf(workflows.BillPolicy{}):             nil,
	reflect.TypeOf(invoicecloud.Limits{}):              nil,
	reflect.TypeOf(workflows.Duties{}):                 nil,
	reflect.TypeOf(workflows.WebSignals{}):             nil,
	reflect.TypeOf(BatchStatesRequest{}):               {"bills"},
	reflect.TypeOf(BatchApprovalsRequest{}):            {"role", "decision", "bills"},
	reflect.TypeOf(BatchBill{}):                        {"resource", "billId"},
}

// fieldDocs document what the Go types cannot say (they live in workflows): enums, formats,
// patterns and examples, by type and JSON field.
var fieldDocs = map[reflect.Type]map[string]map[string]any{
	reflect.TypeOf(workflows.BillInput{}): {
		"billId": {"maxLength": workflows.MaxBillIDLen, "example": "报销单-0001",
			"description": fmt.Sprintf("the ERP's bill id: any printable Unicode (Chinese included, no control characters); percent-encode it in paths. "+
				"At most %d characters, and the workflow ID bill:<resource>:<billId>, billId percent-encoded (9 bytes per Chinese character), "+
				"must fit %d bytes: about 27 Chinese characters with a short resource (400 naming billId otherwise)", workflows.MaxBillIDLen, MaxIDLen)},
		"policy": serverSetDoc("set by the server from its policy file (shown in a bill's state); a request carrying it is refused (400)"),
		"limits": serverSetDoc("set by the server from the bill's enterprise (its limits in the enterprises file, [assumed] bounds of the line " +
			"fields, cover, attachments and images; shown in a bill's state and in GET /v1/enterprises); a request carrying it is refused (400)"),
		"resource": {"maxLength": workflows.MaxResourceLen, "example": "OA",
			"description": "the source system: at most 10 printable characters, no ':' or '/'"},
		"billTaxNo": {"example": "91330100MA2B3C4D5N", "pattern": taxNoPattern,
			"description": "taxpayer id of the bill's company (upper-cased by the server); an 18-character code's GB 32100 check character must verify"},
		"pushType": {"enum": []string{workflows.PushSocket, workflows.PushPoll}},
	},
	reflect.TypeOf(invoicecloud.Company{}): {
		"taxNo": {"example": "91330100MA2B3C4D5N", "pattern": taxNoPattern},
	},
	reflect.TypeOf(workflows.Options{}): {
		"imageMode":     {"enum": []string{workflows.ImageNone, workflows.ImageBasic, workflows.ImageMatch, workflows.ImageSubmitter}},
		"deduction":     {"enum": []string{workflows.DeductionNone, workflows.DeductionImmediate, workflows.DeductionBatch}},
		"onDeadline":    {"enum": []string{workflows.DeadlineRemind, workflows.DeadlineCancel}},
		"notify":        {"readOnly": true, "description": "set by the server: the ERP's webhooks are configured for the bill's resource"},
		"reissueMargin": {"readOnly": true, "description": "set by the server (RIMFLOW_REISSUE_MARGIN): an eventCode expiring within this is replaced when a URL is asked for"},
		"historyLimit":  {"minimum": 0, "description": "events one run may hold before the bill continues as new (0 or absent: the default)"},
		"reversalWindow": {"example": "72h", "description": "how long after its voucher is saved the completed bill takes a voucher reversal (反记账, " +
			"POST …/voucher/reversal) before it ends; absent or 0: it ends at once and takes none; at most 8784h"},
	},
	reflect.TypeOf(workflows.ApproveRequest{}): {
		"decision": {"enum": []string{workflows.DecisionApprove, workflows.DecisionReject, workflows.DecisionReturn}},
		"role":     {"example": "supervisor", "pattern": "^[a-z][a-z0-9_]{0,31}$"},
		"approver": {"maxLength": MaxTextLen, "description": "who decides; defaults to the X-Acting-User header and must equal it when both are given"},
		"comment":  {"maxLength": MaxTextLen},
		"actor":    actorDoc,
	},
	reflect.TypeOf(workflows.SubmitRequest{}):  {"by": {"maxLength": MaxTextLen}, "actor": actorDoc},
	reflect.TypeOf(workflows.RetryRequest{}):   {"by": {"maxLength": MaxTextLen}, "actor": actorDoc},
	reflect.TypeOf(workflows.CancelRequest{}):  {"reason": {"maxLength": MaxTextLen}, "by": {"maxLength": MaxTextLen}, "actor": actorDoc},
	reflect.TypeOf(workflows.ResolveRequest{}): {"reason": {"maxLength": MaxTextLen}, "by": {"maxLength": MaxTextLen}, "done": {"maxLength": MaxTextLen}, "actor": actorDoc},
	reflect.TypeOf(workflows.AmendRequest{}):   {"reason": {"maxLength": MaxTextLen}, "actor": actorDoc},
	reflect.TypeOf(workflows.ImagesRequest{}):  {"actor": actorDoc},
	reflect.TypeOf(workflows.VoucherReversalRequest{}): {"reason": {"maxLength": MaxTextLen}, "by": {"maxLength": MaxTextLen,
		"description": "who reverses the voucher; defaults to the X-Acting-User header"}, "vouchId": {"description": "the voucher booked on the bill (a stale retry never reverses the next one)"}, "actor": actorDoc},
	reflect.TypeOf(workflows.ApprovalRecord{}): {
		"decision": {"enum": []string{workflows.DecisionApprove, workflows.DecisionReject, workflows.DecisionReturn}},
	},
	reflect.TypeOf(workflows.VoucherRequest{}): {
		"accountDate":  {"format": "date", "example": "2026-11-30"},
		"accountTime":  {"format": "date", "example": "2026-11-30", "description": "a date yyyy-MM-dd (a time of day is refused)"},
		"businessDate": {"format": "date", "example": "2026-11-29"},
		"actor":        actorDoc,
	},
	reflect.TypeOf(workflows.InvoiceView{}): {
		"status":      {"enum": []string{"1", "30", "60"}, "description": "the cloud's status: 1 unused, 30 in use (bound), 60 used"},
		"amount":      {"pattern": amountPattern},
		"taxAmount":   {"pattern": amountPattern},
		"totalAmount": {"pattern": amountPattern},
	},
	reflect.TypeOf(workflows.BillState{}): {
		"totalAmount": {"pattern": amountPattern},
		"id":          {"example": "OA/报销单-0001"},
	},
	reflect.TypeOf(workflows.Decision{}): {
		"totalAmount": {"pattern": amountPattern},
		"id":          {"example": "OA/报销单-0001"},
	},
	reflect.TypeOf(workflows.DeliveryView{}): {
		"via":     {"enum": []string{workflows.ViaSocket, workflows.ViaPoll, workflows.ViaERP, workflows.ViaPush}},
		"outcome": {"enum": []string{"bound", "pending", "duplicate"}},
	},
	reflect.TypeOf(workflows.DeductionView{}): {
		"mode": {"enum": []string{workflows.DeductionImmediate, workflows.DeductionBatch}},
	},
	reflect.TypeOf(InvoicesAccepted{}): {
		"outcome": {"enum": []string{ForwardBinding, ForwardPending}},
	},
	reflect.TypeOf(ListItem{}): {
		"totalAmount": {"pattern": amountPattern},
	},
	reflect.TypeOf(BatchStatesRequest{}): {
		"bills": {"minItems": 1, "maxItems": MaxBatch, "description": "the bills, each once"},
	},
	reflect.TypeOf(BatchApprovalsRequest{}): {
		"bills":    {"minItems": 1, "maxItems": MaxBatch, "description": "the bills, each once"},
		"decision": {"enum": []string{"approve", "reject", "return"}},
		"approver": {"description": "the person deciding; the X-Acting-User header may name them instead"},
	},
	reflect.TypeOf(Error{}): {
		"code":         {"enum": Codes},
		"subCode":      {"enum": SubCodes},
		"businessCode": {"enum": businessCodeList(), "description": "the stable business code an ERP maps (docs/errors.md); on every error answer"},
		"cloudMessage": {"description": "502: the cloud's own text of its refusal, beside its cloudCode"},
	},
}

// serverSetDoc documents a field only the server sets: shown in answers, refused in requests
// (readOnly: OpenAPI's "SHOULD NOT be sent as part of the request").
func serverSetDoc(desc string) map[string]any {
	return map[string]any{"readOnly": true, "description": desc}
}

var actorDoc = serverSetDoc("set by the server: the authenticated client and the person the X-Acting-User header names " +
	"(shown in a bill's state); a request carrying it is refused (400)")

const (
	// taxNoPattern: a taxpayer id in either letter case, spaces around it allowed (the server trims
	// and upper-cases tax numbers; answers carry them upper-case).
	taxNoPattern  = "^\\s*([0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}|[0-9A-Za-z]{15}|[0-9A-Za-z]{17}|[0-9A-Za-z]{20})\\s*$"
	amountPattern = "^-?[0-9]+\\.[0-9]{2}$"
)

func knownStageNames() []string {
	return []string{string(workflows.StageCollecting), string(workflows.StageAwaitingSupervisor),
		string(workflows.StageImageReview), string(workflows.StageAwaitingFinance), string(workflows.StageAwaitingVoucher),
		string(workflows.StageDeducting), string(workflows.StageCompleted), string(workflows.StageRejected),
		string(workflows.StageCancelled), string(workflows.StageFailed)}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var always []string
	g.fields(t, props, &always)
	for name, doc := range fieldDocs[t] {
		p, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		merged := map[string]any{}
		if ref, isRef := p["$ref"]; isRef {
			// A $ref's siblings are ignored in OpenAPI 3.0: the documentation goes beside an allOf.
			merged["allOf"] = []any{map[string]any{"$ref": ref}}
		} else {
			for k, v := range p {
				merged[k] = v
			}
		}
		for k, v := range doc {
			merged[k] = v
		}
		props[name] = merged
	}
	obj := map[string]any{"type": "object", "properties": props}
	if req, isRequest := requestRequired[t]; isRequest {
		obj["additionalProperties"] = false
		if len(req) > 0 {
			obj["required"] = req
		}
	} else if len(always) > 0 {
		slices.Sort(always)
		obj["required"] = always
	}
	return obj
}

// fields follows encoding/json's rules: json tags, "-" skipped, embedded structs flattened.
// always collects the fields encoded whatever their value (no omitempty or omitzero).
func (g *schemaGen) fields(t reflect.Type, props map[string]any, always *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, always)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.of(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*always = append(*always, name)
		}
	}
}

// forwardSchema is the forwarded payload's schema, written from the tables checkForward uses.
func (g *schemaGen) forwardSchema() map[string]any {
	const name = "ForwardedPayload"
	if _, done := g.components[name]; !done {
		g.components[name] = map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{"invoiceData"},
			"description": "what the ERP's browser received on the cloud's socket, as received",
			"properties": map[string]any{
				"invoiceData": map[string]any{"type": "array", "minItems": 1, "maxItems": calls.MaxDeliveryInvoices,
					"items": specObject(forwardInvoiceFields, []string{"serialNo"})},
				"attachData": map[string]any{"type": "array", "items": specObject(forwardAttachFields, nil)},
				"lines": map[string]any{"type": "array", "maxItems": workflows.MaxLines, "items": g.of(reflect.TypeOf(workflows.InvoiceLine{})),
					"description": "the ERP's line fields for this payload's invoices (by serialNo), sent on every billSave of the bill"},
			},
		}
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func specObject(specs []fieldSpec, required []string) map[string]any {
	props := map[string]any{}
	for _, f := range specs {
		props[f.Name] = specSchema(f)
	}
	obj := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		obj["required"] = required
	}
	return obj
}

func specSchema(f fieldSpec) map[string]any {
	var s map[string]any
	switch f.Kind {
	case kindText:
		s = map[string]any{"type": "string"}
	case kindCode:
		s = map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	case kindAmount:
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "number", "minimum": 0, "multipleOf": 0.01},
			map[string]any{"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$"}}}
	case kindDecimal:
		s = map[string]any{"anyOf": []any{
			map[string]any{"type": "number", "minimum": 0},
			map[string]any{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}}}
	case kindDate:
		s = map[string]any{"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?$"}
	case kindItems:
		s = map[string]any{"type": "array", "items": specObject(forwardItemFields, nil)}
	}
	s["description"] = f.Doc
	return s
}
