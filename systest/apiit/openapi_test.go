package apiit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"rimflow/api"
	"rimflow/systest/testenv"
)

// TestOpenAPIAgainstTheServer walks the served OpenAPI document against the live server with the
// ERP's walk (api.Scenario, the same steps the Postman collection runs): every operation of the
// document is taken; every answer's status is one the document lists for it and the walk
// expects; every JSON answer matches the documented schema, with no undocumented field; every
// request body the walk sends (for a success) and every documented example matches the
// documented request schema; every operation but the codec's refuses an unknown query parameter
// with a documented 400.
func TestOpenAPIAgainstTheServer(t *testing.T) {
	// The walk's webhook is signed with this variable (the devstack sets it itself).
	t.Setenv(api.ScenarioWebhookSecretEnv, "whsec-walk-0123456789abcdef")
	s := newStack(t, "doc-token")
	var doc map[string]any
	if code := s.call(t, "GET", "/v1/openapi.json", nil, &doc); code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}
	d := openAPIDoc{doc: doc}
	ops := d.operations()
	if len(ops) < 17 {
		t.Fatalf("the document has %d operations", len(ops))
	}
	// The checker itself: a drifted answer is caught (an undocumented field, a wrong type, a value
	// outside an enum, a missing required field).
	billState := map[string]any{"$ref": "#/components/schemas/BillState"}
	if p := d.validate(billState, roundTrip(map[string]any{"stage": "collecting", "colour": "red", "invoiceCount": "2"}), "x", true); len(p) < 3 {
		t.Errorf("the schema check misses drift: %v", p)
	}
	if p := d.validate(map[string]any{"$ref": "#/components/schemas/Error"}, roundTrip(map[string]any{"code": "nope", "businessCode": "RF1001", "message": "m"}), "x", true); len(p) != 1 {
		t.Errorf("the schema check misses an enum: %v", p)
	}
	for id, op := range ops {
		if body, ok := op.op["requestBody"].(map[string]any); ok {
			media := body["content"].(map[string]any)["application/json"].(map[string]any)
			if ex, ok := media["example"]; ok {
				for _, p := range d.validate(media["schema"], roundTrip(ex), "example", false) {
					t.Errorf("%s: documented example: %s", id, p)
				}
			}
		}
	}

	vars := map[string]string{api.VarBaseURL: s.api.URL, api.VarCloudURL: s.simURL, api.VarToken: s.token,
		api.VarRun: strconv.FormatInt(time.Now().UnixNano(), 36)}
	walked := map[string]bool{}
	for i, st := range api.Scenario() {
		name := fmt.Sprintf("step %02d %s", i+1, st.Name)
		if st.Operation == "" {
			status, raw, _ := s.sendFull(t, "POST", s.simURL+st.Sim, api.Expand(st.Body, vars))
			if status != st.Status {
				t.Errorf("%s: %d %s", name, status, raw)
			}
			save(t, name, st, raw, vars)
			continue
		}
		op, ok := ops[st.Operation]
		if !ok {
			t.Errorf("%s: the document has no operation %s", name, st.Operation)
			continue
		}
		walked[st.Operation] = true
		target := s.api.URL + op.fill(func(p string) string { return url.PathEscape(api.Expand(st.Path[p], vars)) })
		if len(st.Query) > 0 {
			q := url.Values{}
			for k, v := range st.Query {
				q.Set(k, api.Expand(v, vars))
			}
			target += "?" + q.Encode()
		}
		body := api.Expand(st.Body, vars)
		if body != "" && st.Status < 300 {
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("%s: the walk's body is not JSON: %v", name, err)
			}
			for _, p := range d.validate(op.requestSchema(), roundTrip(v), "body", false) {
				t.Errorf("%s: the body the walk sends breaks the documented schema: %s", name, p)
			}
		}
		var status int
		var raw []byte
		var hdr http.Header
		for try := 0; ; try++ {
			status, raw, hdr = s.sendFull(t, op.method, target, body)
			if st.Until == nil || try >= st.Until.Tries || status != st.Status || fmt.Sprint(pathValue(raw, st.Until.Path)) == st.Until.Equals {
				break
			}
			time.Sleep(time.Duration(st.Until.DelayMs) * time.Millisecond)
		}
		if status != st.Status {
			t.Errorf("%s: %s %s answered %d, the walk expects %d: %.300s", name, op.method, target, status, st.Status, raw)
		}
		if st.Until != nil && fmt.Sprint(pathValue(raw, st.Until.Path)) != st.Until.Equals {
			t.Errorf("%s: %s never became %s", name, st.Until.Path, st.Until.Equals)
		}
		for path, want := range st.Expect {
			if got := fmt.Sprint(pathValue(raw, path)); got != want {
				t.Errorf("%s: %s is %s, the walk expects %s", name, path, got, want)
			}
		}
		if hdr.Get(api.HeaderRequestID) == "" {
			t.Errorf("%s: no %s", name, api.HeaderRequestID)
		}
		for _, p := range d.checkAnswer(op, status, hdr, raw) {
			t.Errorf("%s: %s", name, p)
		}
		save(t, name, st, raw, vars)
	}
	for id := range ops {
		// The codec server answers by its own rules (a session, origins); the security tests drive it.
		if !walked[id] && !strings.HasPrefix(id, "codec") {
			t.Errorf("the walk never takes %s", id)
		}
	}

	// An unknown query parameter: a documented 400 on every operation but the codec's, whose query
	// is Temporal's protocol (ignored; api's TestCodecAnswersTemporalWeb).
	for id, op := range ops {
		if strings.HasPrefix(id, "codec") {
			continue
		}
		target := s.api.URL + op.fill(func(p string) string { return map[string]string{"serialNo": "S"}[p] + "X" }) + "?zz=1"
		status, raw, hdr := s.sendFull(t, op.method, target, "")
		if status != 400 {
			t.Errorf("%s with an unknown query parameter: %d %.200s", id, status, raw)
		}
		for _, p := range d.checkAnswer(op, status, hdr, raw) {
			t.Errorf("%s with an unknown query parameter: %s", id, p)
		}
	}
}

func save(t *testing.T, name string, st api.Step, raw []byte, vars map[string]string) {
	t.Helper()
	for k, path := range st.Save {
		v := pathValue(raw, path)
		if v == nil {
			t.Errorf("%s: nothing at %s to save as %s", name, path, k)
			continue
		}
		if strings.HasPrefix(k, "json:") {
			b, _ := json.Marshal(v)
			vars[k] = string(b)
		} else {
			vars[k] = fmt.Sprint(v)
		}
	}
}

// pathValue reads a dotted path (a.b[0].c) in a JSON answer; numbers come back as json.Number.
func pathValue(raw []byte, path string) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	for _, part := range strings.Split(path, ".") {
		name, idx, indexed := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
		if indexed {
			arr, ok := v.([]any)
			i, err := strconv.Atoi(idx)
			if !ok || err != nil || i >= len(arr) {
				return nil
			}
			v = arr[i]
		}
	}
	return v
}

func roundTrip(v any) any {
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	_ = dec.Decode(&out)
	return out
}

func (s *stack) sendFull(t *testing.T, method, target, body string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := testenv.CheckedClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

// openAPIDoc reads the served document and checks values against its schemas.
type openAPIDoc struct{ doc map[string]any }

type operation struct {
	method, path string
	op           map[string]any
}

func (d openAPIDoc) operations() map[string]operation {
	out := map[string]operation{}
	for path, item := range d.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			out[o["operationId"].(string)] = operation{method: strings.ToUpper(method), path: path, op: o}
		}
	}
	return out
}

var docParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

func (o operation) fill(value func(param string) string) string {
	return docParam.ReplaceAllStringFunc(o.path, func(m string) string { return value(m[1 : len(m)-1]) })
}

func (o operation) requestSchema() any {
	body, _ := o.op["requestBody"].(map[string]any)
	if body == nil {
		return nil
	}
	return body["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
}

// checkAnswer: the status is documented for the operation, the documented headers are there, and
// a JSON answer matches the documented schema with no undocumented field.
func (d openAPIDoc) checkAnswer(o operation, status int, hdr http.Header, raw []byte) []string {
	resp, ok := o.op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("status %d is not documented for %s %s", status, o.method, o.path)}
	}
	var problems []string
	for h := range resp["headers"].(map[string]any) {
		if hdr.Get(h) == "" {
			problems = append(problems, "documented header "+h+" missing")
		}
	}
	content, _ := resp["content"].(map[string]any)
	media, isJSON := content["application/json"].(map[string]any)
	if !isJSON {
		return problems
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		return append(problems, "documented as JSON, answered "+hdr.Get("Content-Type"))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return append(problems, "answer is not JSON: "+err.Error())
	}
	return append(problems, d.validate(media["schema"], v, "answer", true)...)
}

// validate checks v against an OpenAPI 3.0 schema (the subset the API's document uses). strict
// also refuses properties an object schema does not list (an undocumented field in an answer).
func (d openAPIDoc) validate(schema any, v any, at string, strict bool) []string {
	s, _ := schema.(map[string]any)
	if s == nil || len(s) == 0 {
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return d.validate(d.doc["components"].(map[string]any)["schemas"].(map[string]any)[name], v, at, strict)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		if _, typed := s["type"]; typed {
			return []string{at + ": null where the schema does not allow it"}
		}
	}
	if allOf, ok := s["allOf"].([]any); ok {
		var all []string
		for _, part := range allOf {
			all = append(all, d.validate(part, v, at, strict)...)
		}
		return append(all, d.validateRest(s, v, at)...)
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		var all []string
		for _, alt := range anyOf {
			p := d.validate(alt, v, at, strict)
			if len(p) == 0 {
				return d.validateRest(s, v, at)
			}
			all = append(all, p...)
		}
		return []string{fmt.Sprintf("%s: matches none of anyOf (%s)", at, strings.Join(all, "; "))}
	}
	var problems []string
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", at, v)}
		}
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, present := m[r.(string)]; !present {
					problems = append(problems, fmt.Sprintf("%s: required %s missing", at, r))
				}
			}
		}
		for k, val := range m {
			if ps, listed := props[k]; listed {
				problems = append(problems, d.validate(ps, val, at+"."+k, strict)...)
				continue
			}
			switch extra := s["additionalProperties"].(type) {
			case bool:
				if !extra {
					problems = append(problems, fmt.Sprintf("%s: %s is not a documented property", at, k))
				}
			case map[string]any:
				problems = append(problems, d.validate(extra, val, at+"."+k, strict)...)
			default:
				if strict {
					problems = append(problems, fmt.Sprintf("%s: %s is not documented", at, k))
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", at, v)}
		}
		if n, ok := s["minItems"].(float64); ok && float64(len(arr)) < n {
			problems = append(problems, fmt.Sprintf("%s: fewer than %v items", at, n))
		}
		for i, it := range arr {
			problems = append(problems, d.validate(s["items"], it, fmt.Sprintf("%s[%d]", at, i), strict)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T", at, v)}
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			problems = append(problems, fmt.Sprintf("%s: %q does not match %s", at, str, p))
		}
		if n, ok := s["maxLength"].(float64); ok && float64(utf8.RuneCountInString(str)) > n {
			problems = append(problems, fmt.Sprintf("%s: longer than %v", at, n))
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		case "date":
			if _, err := time.Parse(time.DateOnly, str); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not a date", at, str))
			}
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: want a %s, got %T", at, s["type"], v)}
		}
		if _, err := n.Int64(); s["type"] == "integer" && err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s is not an integer", at, n))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: want a boolean, got %T", at, v)}
		}
	}
	return append(problems, d.validateRest(s, v, at)...)
}

// validateRest checks the keywords that hold whatever the type: enum.
func (d openAPIDoc) validateRest(s map[string]any, v any, at string) []string {
	enum, ok := s["enum"].([]any)
	if !ok {
		return nil
	}
	if slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return nil
	}
	return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
}
