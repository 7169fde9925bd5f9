package api

import (
	"regexp"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

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
				"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"},
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
			params = append(params, map[string]any{
				"name": q.Name, "in": "query", "required": false, "description": q.Description, "schema": s,
			})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{
				"required": !rt.BodyOpt,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(rt.Body)}},
			}
		}
		responses := map[string]any{}
		for _, resp := range append(append([]response{}, rt.Responses...), errorResponses(rt)...) {
			r := map[string]any{"description": resp.Description}
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
				"invoices in Kingdee Invoice Cloud to the voucher. Amounts are decimal strings. Errors are " +
				`{"error":{"code","message","fields"}}.`,
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
