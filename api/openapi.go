package api

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

var pathParamDocs = map[string]string{
	"resource": "the bill's source system (printable Unicode, percent-encoded UTF-8)",
	"billId":   "the ERP's bill id (printable Unicode, percent-encoded UTF-8; '/' as %2F)",
	"serialNo": "the invoice's serial number",
}

var pathParamExamples = map[string]string{"resource": "OA", "billId": "报销单-0001", "serialNo": "7f3c0a9e5b1d4c2a8e6f0b3d5a7c9e1f",
	"taxNo": "91330100MA2B3C4D5N"}

func init() { pathParamDocs["taxNo"] = "the enterprise's tax number the cloud pushes for" }

// exampleValue is a parameter's example in the parameter's own type (a boolean's is true, not "true").
func exampleValue(typ, ex string) any {
	switch typ {
	case "boolean":
		if b, err := strconv.ParseBool(ex); err == nil {
			return b
		}
	case "integer":
		if n, err := strconv.Atoi(ex); err == nil {
			return n
		}
	}
	return ex
}

// tagOf groups the operations for readers of the document: the bill's life, ops, the protocols.
func tagOf(rt route) string {
	switch {
	case strings.HasPrefix(rt.Path, "/v1/bills"):
		return "bills"
	case strings.HasPrefix(rt.Path, "/v1/codec/"):
		return "codec"
	case strings.HasPrefix(rt.Path, "/v1/push/"):
		return "push"
	}
	return "service"
}

var tags = []any{
	map[string]any{"name": "bills", "description": "a bill's life: start, collect, decide, voucher; find bills"},
	map[string]any{"name": "codec", "description": "Temporal's remote codec protocol, for Temporal Web and the temporal CLI"},
	map[string]any{"name": "push", "description": "the cloud's push of collected invoices (AWS收票推送)"},
	map[string]any{"name": "service", "description": "health, metrics, the enterprise registry and this document"},
}

// OpenAPI builds the OpenAPI 3.0 document of the routes.
func OpenAPI() map[string]any { return openAPI(routes()) }

func openAPI(rts []route) map[string]any {
	g := newSchemaGen()
	errSchema := g.schema(ErrorBody{})
	paths := map[string]any{}
	for _, rt := range rts {
		if rt.Hidden {
			continue
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		desc := rt.Description
		if desc == "" {
			desc = rt.Summary + "."
		}
		op := map[string]any{
			"operationId": rt.Operation,
			"summary":     rt.Summary,
			"description": desc,
			"tags":        []any{tagOf(rt)},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{
				"name": m[1], "in": "path", "required": true, "description": pathParamDocs[m[1]],
				"schema": map[string]any{"type": "string", "minLength": 1}, "example": pathParamExamples[m[1]],
			})
		}
		for _, q := range rt.Query {
			typ := q.Type
			if typ == "" {
				typ = "string"
			}
			s := map[string]any{"type": typ}
			if len(q.Enum) > 0 {
				s["enum"] = q.Enum
			}
			if q.Format != "" {
				s["format"] = q.Format
			}
			if q.Min != nil {
				s["minimum"] = *q.Min
			}
			if q.Max != nil {
				s["maximum"] = *q.Max
			}
			p := map[string]any{"name": q.Name, "in": "query", "required": q.Required, "description": q.Description, "schema": s}
			if q.Example != "" {
				p["example"] = exampleValue(typ, q.Example)
			}
			params = append(params, p)
		}
		if !rt.Open && rt.Method != "GET" {
			params = append(params, map[string]any{
				"name": HeaderIdempotencyKey, "in": "header", "required": false,
				"description": "1–200 printable ASCII characters: the same call sent again with the same key gets the first call's answer; the key sent with another request is 422 idempotency_key_reused",
				"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": MaxIdempotencyKeyLen},
			})
		}
		if !rt.Open && rt.raw == nil {
			params = append(params, map[string]any{
				"name": HeaderActingUser, "in": "header", "required": false,
				"description": fmt.Sprintf("the person the client vouches for (at most %d printable characters): recorded with "+
					"every decision; an approval's approver defaults to it and must equal it when both are given", MaxActingUserLen),
				"schema": map[string]any{"type": "string", "maxLength": MaxActingUserLen},
			})
		}
		params = append(params, map[string]any{
			"name": HeaderRequestID, "in": "header", "required": false,
			"description": "the caller's id for this request (1–200 printable ASCII); a new one is made when absent",
			"schema":      map[string]any{"type": "string", "maxLength": MaxIdempotencyKeyLen},
		})
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != nil {
			media := map[string]any{"schema": g.schema(rt.Body)}
			if rt.Example != nil {
				media["example"] = rt.Example
			}
			body := map[string]any{"required": !rt.BodyOpt, "content": map[string]any{"application/json": media}}
			if rt.BodyOpt {
				body["description"] = "may be empty, but a POST always carries Content-Type: application/json (415 without it), body or not"
			}
			op["requestBody"] = body
		}
		responses := map[string]any{}
		for _, resp := range append(append([]response{}, rt.Responses...), errorResponses(rt)...) {
			r := map[string]any{"description": resp.Description, "headers": map[string]any{
				HeaderRequestID: map[string]any{"description": "this request's id, also in the server's logs",
					"schema": map[string]any{"type": "string"}},
			}}
			switch {
			case resp.ContentType != "":
				r["content"] = map[string]any{resp.ContentType: map[string]any{"schema": map[string]any{"type": "string"}}}
			case resp.Body != nil:
				schema := g.schema(resp.Body)
				if _, isErr := resp.Body.(ErrorBody); isErr {
					schema = errSchema
				}
				r["content"] = map[string]any{"application/json": map[string]any{"schema": schema}}
			}
			key := strconv.Itoa(resp.Status)
			first, dup := responses[key].(map[string]any)
			if !dup {
				responses[key] = r
				continue
			}
			// One status, two shapes (the push route's own 400 and the server's for an unknown
			// query parameter): the answer is either.
			fc, _ := first["content"].(map[string]any)
			rc, _ := r["content"].(map[string]any)
			fj, _ := fc["application/json"].(map[string]any)
			rj, _ := rc["application/json"].(map[string]any)
			if fj != nil && rj != nil && !reflect.DeepEqual(fj["schema"], rj["schema"]) {
				fc["application/json"] = map[string]any{"schema": map[string]any{"anyOf": []any{fj["schema"], rj["schema"]}}}
				first["description"] = first["description"].(string) + "; or " + r["description"].(string)
			}
		}
		op["responses"] = responses
		if !rt.Open {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"servers": []any{map[string]any{"url": "/", "description": "the API's own origin (RIMFLOW_API_ADDR)"}},
		"tags":    tags,
		"info": map[string]any{
			"title":   "rimflow API",
			"version": "1.0.0",
			"contact": map[string]any{"name": "rimflow maintainers (docs/api.md)"},
			"description": "The ERP's API to rimflow: one durable Temporal workflow per bill, from collecting " +
				"invoices in Kingdee Invoice Cloud to the voucher. Amounts are decimal strings. A bill is named " +
				"{resource}/{billId}; both may hold any printable Unicode and are percent-encoded (UTF-8) in paths. " +
				`Errors are {"error":{"code","businessCode","subCode","message","fields","cloudCode","cloudMessage","field","step","requestId"}}; ` +
				"unknown query parameters (except on /v1/codec/…, Temporal's protocol) and unknown body fields are refused (400). docs/api.md tells the same.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "each access client's own token (RIMFLOW_API_CLIENTS_FILE or RIMFLOW_API_TOKEN); " +
						"decisions also take X-Acting-User, the person the client vouches for"},
			},
		},
	}
}
