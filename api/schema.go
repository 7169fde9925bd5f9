package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/shopspring/decimal"

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
)

// schema returns the schema of v's type: a $ref for named structs, inline otherwise.
func (g *schemaGen) schema(v any) map[string]any {
	return g.of(reflect.TypeOf(v))
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	switch t {
	case typeTime:
		return map[string]any{"type": "string", "format": "date-time"}
	case typeDecimal:
		return map[string]any{"type": "string", "format": "decimal", "example": "100.00",
			"description": "decimal amount as a string"}
	case typeDuration:
		return map[string]any{"type": "string", "example": "48h",
			"description": "Go duration (\"48h\", \"30m\"); a number of seconds is also accepted"}
	case typeStage:
		return map[string]any{"type": "string", "example": string(workflows.StageCollecting),
			"description": "collecting, awaiting_<role> (awaiting_supervisor, awaiting_finance…), image_review, " +
				"awaiting_voucher, deducting, completed, rejected, cancelled, failed"}
	case typeRaw:
		return map[string]any{}
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
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
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

// requiredFields are the fields a body cannot do without (the rest is optional or defaulted);
// workflows.BillInput.Validate is the authority, this only documents it.
var requiredFields = map[reflect.Type][]string{
	reflect.TypeOf(workflows.BillInput{}):      {"billId", "billNo", "billType", "resource", "billTaxNo", "userId"},
	reflect.TypeOf(workflows.ApproveRequest{}): {"role", "decision", "approver"},
	reflect.TypeOf(workflows.VoucherRequest{}): {"vouchId", "vouchNo", "accountDate", "accountTime", "businessDate", "resource"},
	reflect.TypeOf(workflows.InvoicesSignal{}): {"invoiceData"},
	reflect.TypeOf(ErrorBody{}):                {"error"},
	reflect.TypeOf(Error{}):                    {"code", "message"},
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	g.fields(t, props)
	obj := map[string]any{"type": "object", "properties": props}
	if req := requiredFields[t]; len(req) > 0 {
		obj["required"] = req
	}
	return obj
}

// fields follows encoding/json's rules: json tags, "-" skipped, embedded structs flattened.
func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props)
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
	}
}
