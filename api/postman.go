package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

//go:generate go run ./postman -o ../docs/postman/rimflow.postman_collection.json

// PostmanFile is where the collection is committed, from the repository's root.
const PostmanFile = "docs/postman/rimflow.postman_collection.json"

// PostmanCollection is the ERP's walk (Scenario) as a Postman collection (v2.1): each step is a
// request of the route table (method, path, summary, auth) with tests for its status, its
// X-Request-Id and what it saves; a step that waits repeats itself (setNextRequest). Run it with
// newman against a devstack: --env-var baseUrl=… --env-var cloudUrl=… (and token when set).
func PostmanCollection() ([]byte, error) {
	byOp := map[string]route{}
	for _, rt := range routes() {
		byOp[rt.Operation] = rt
	}
	var items []any
	for i, st := range Scenario() {
		name := fmt.Sprintf("%02d %s", i+1, st.Name)
		item, err := postmanItem(name, st, byOp)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	coll := map[string]any{
		"info": map[string]any{
			"_postman_id": "7c1f9a52-5d0e-4c4b-9a54-2f0e8c1d1515",
			"name":        "rimflow API — the ERP's walk",
			"description": "Generated from rimflow's route table and its ERP walk (api/scenario.go) by `go generate ./api`; " +
				"do not edit by hand. Run: npx newman run " + PostmanFile + " --env-var baseUrl=http://127.0.0.1:8080 " +
				"--env-var cloudUrl=http://127.0.0.1:8090 against `go run ./devstack`.",
			"schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
		},
		"variable": []any{
			map[string]any{"key": VarBaseURL, "value": "http://127.0.0.1:8080"},
			map[string]any{"key": VarCloudURL, "value": "http://127.0.0.1:8090"},
			map[string]any{"key": VarToken, "value": ""},
			map[string]any{"key": VarRun, "value": ""},
		},
		"auth": map[string]any{"type": "bearer", "bearer": []any{
			map[string]any{"key": "token", "value": "{{" + VarToken + "}}", "type": "string"}}},
		"event": []any{script("prerequest",
			"// one run, one set of bill keys",
			`if (!pm.collectionVariables.get("run")) { pm.collectionVariables.set("run", String(Date.now())); }`)},
		"item": items,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(coll); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func postmanItem(name string, st Step, byOp map[string]route) (map[string]any, error) {
	method, base, desc := http.MethodPost, "{{"+VarCloudURL+"}}", "the simulator (a user or the cloud acts)"
	var segments []string
	auth := map[string]any{"type": "noauth"}
	if st.Operation == "" {
		segments = strings.Split(strings.Trim(st.Sim, "/"), "/")
	} else {
		rt, ok := byOp[st.Operation]
		if !ok {
			return nil, fmt.Errorf("step %q: no route %q", st.Name, st.Operation)
		}
		method, base, desc, auth = rt.Method, "{{"+VarBaseURL+"}}", rt.Summary, nil
		for _, seg := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
			if p, isParam := strings.CutPrefix(seg, "{"); isParam {
				v, given := st.Path[strings.TrimSuffix(p, "}")]
				if !given {
					return nil, fmt.Errorf("step %q: path parameter %s not given", st.Name, seg)
				}
				seg = EscapePathTemplate(v)
			}
			segments = append(segments, seg)
		}
	}
	raw := base + "/" + strings.Join(segments, "/")
	var query []any
	for _, k := range sortedKeys(st.Query) {
		query = append(query, map[string]any{"key": k, "value": st.Query[k]})
	}
	if len(query) > 0 {
		parts := make([]string, 0, len(query))
		for _, k := range sortedKeys(st.Query) {
			parts = append(parts, k+"="+st.Query[k])
		}
		raw += "?" + strings.Join(parts, "&")
	}
	req := map[string]any{
		"method":      method,
		"description": desc,
		"header":      []any{map[string]any{"key": "Accept", "value": "application/json"}},
		"url":         map[string]any{"raw": raw, "host": []string{base}, "path": segments, "query": query},
	}
	if query == nil {
		req["url"].(map[string]any)["query"] = []any{}
	}
	if auth != nil {
		req["auth"] = auth
	}
	if st.Body != "" {
		req["header"] = append(req["header"].([]any), map[string]any{"key": "Content-Type", "value": "application/json"})
		req["body"] = map[string]any{"mode": "raw", "raw": st.Body, "options": map[string]any{"raw": map[string]any{"language": "json"}}}
	}
	return map[string]any{"name": name, "request": req, "event": []any{script("test", testLines(name, st)...)}}, nil
}

// testLines are a step's Postman tests: its status, the request id, what it saves, its wait.
func testLines(name string, st Step) []string {
	q := strconv.Quote
	lines := []string{
		`function at(o, p) { return p.split(".").reduce(function (v, k) { var m = k.match(/^(\w+)\[(\d+)\]$/); ` +
			`if (v === undefined || v === null) { return v; } return m ? (v[m[1]] || [])[Number(m[2])] : v[k]; }, o); }`,
		fmt.Sprintf(`pm.test(%s, function () { pm.response.to.have.status(%d); });`, q(name+": status "+strconv.Itoa(st.Status)), st.Status),
	}
	if st.Operation != "" {
		lines = append(lines, fmt.Sprintf(`pm.test(%s, function () { pm.response.to.have.header("%s"); });`,
			q(name+": "+HeaderRequestID), HeaderRequestID))
	}
	if len(st.Save) > 0 || st.Until != nil || len(st.Expect) > 0 {
		lines = append(lines, `var body = {}; try { body = pm.response.json(); } catch (e) {}`)
	}
	for _, k := range sortedKeys(st.Save) {
		if strings.HasPrefix(k, "json:") {
			lines = append(lines, fmt.Sprintf(`pm.collectionVariables.set(%s, JSON.stringify(at(body, %s)));`, q(k), q(st.Save[k])))
		} else {
			lines = append(lines, fmt.Sprintf(`pm.collectionVariables.set(%s, String(at(body, %s)));`, q(k), q(st.Save[k])))
		}
	}
	for _, k := range sortedKeys(st.Expect) {
		lines = append(lines, fmt.Sprintf(`pm.test(%s, function () { pm.expect(String(at(body, %s))).to.eql(%s); });`,
			q(fmt.Sprintf("%s: %s is %s", name, k, st.Expect[k])), q(k), q(st.Expect[k])))
	}
	if u := st.Until; u != nil {
		lines = append(lines,
			fmt.Sprintf(`var done = String(at(body, %s)) === %s;`, q(u.Path), q(u.Equals)),
			`var key = "tries:" + pm.info.requestName;`,
			`var tries = Number(pm.collectionVariables.get(key) || 0);`,
			fmt.Sprintf(`if (!done && tries < %d) {`, u.Tries),
			`  pm.collectionVariables.set(key, String(tries + 1));`,
			`  postman.setNextRequest(pm.info.requestName);`,
			fmt.Sprintf(`  setTimeout(function () {}, %d);`, u.DelayMs),
			`} else {`,
			`  pm.collectionVariables.unset(key);`,
			fmt.Sprintf(`  pm.test(%s, function () { pm.expect(String(at(body, %s))).to.eql(%s); });`,
				q(fmt.Sprintf("%s: %s is %s", name, u.Path, u.Equals)), q(u.Path), q(u.Equals)),
			`}`)
	}
	return lines
}

func script(listen string, lines ...string) map[string]any {
	return map[string]any{"listen": listen, "script": map[string]any{"type": "text/javascript", "exec": lines}}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
