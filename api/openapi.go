package api

import (
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

var pathParamExamples = map[string]string{"resource": "OA", "billId": "报销单-0001", "serialNo": "7f3c0a9e5b1d4c2a8e6f0b3d5a7c9e1f"}

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
		op := map[string]any{
			"operationId": rt.Operation,
			"summary":     rt.Summary,
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
			p := map[string]any{"name": q.Name, "in": "query", "required": q.Required, "description": q.Description, "schema": s}
			if q.Example != "" {
				p["example"] = q.Example
			}
			params = append(params, p)
		}
		if !rt.Open && rt.Method != "GET" {
			params = append(params, map[string]any{
				"name": HeaderIdempotencyKey, "in": "header", "required": false,
				"description": "1–200 printable ASCII characters: the same call sent again with the same key gets the first call's answer",
				"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": MaxIdempotencyKeyLen},
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
			op["requestBody"] = map[string]any{"required": !rt.BodyOpt, "content": map[string]any{"application/json": media}}
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
			if _, dup := responses[key]; !dup {
				responses[key] = r
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
		"info": map[string]any{
			"title":   "rimflow API",
			"version": "1.0.0",
			"description": "The ERP's API to rimflow: one durable Temporal workflow per bill, from collecting " +
				"invoices in Kingdee Invoice Cloud to the voucher. Amounts are decimal strings. A bill is named " +
				"{resource}/{billId}; both may hold any printable Unicode and are percent-encoded (UTF-8) in paths. " +
				`Errors are {"error":{"code","subCode","message","fields","cloudCode","field","step","requestId"}}; ` +
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
