package api

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The committed collection is what the route table and the walk make now (go generate ./api).
func TestPostmanCollectionIsUpToDate(t *testing.T) {
	want, err := PostmanCollection()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", PostmanFile))
	if err != nil {
		t.Fatalf("%v: run go generate ./api", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./api", PostmanFile)
	}
}

// The walk takes every route of the table, each step names a route that exists with every path
// parameter it needs, and every variable a step uses is set before it.
func TestScenarioCoversEveryRoute(t *testing.T) {
	byOp := map[string]route{}
	for _, rt := range routes() {
		byOp[rt.Operation] = rt
	}
	walked := map[string]bool{}
	known := map[string]bool{VarBaseURL: true, VarCloudURL: true, VarToken: true, VarRun: true}
	for _, st := range Scenario() {
		texts := []string{st.Body}
		for _, v := range st.Path {
			texts = append(texts, v)
		}
		for _, v := range st.Query {
			texts = append(texts, v)
		}
		for _, text := range texts {
			for _, m := range templateVar.FindAllStringSubmatch(text, -1) {
				if !known[m[1]] {
					t.Errorf("step %q uses {{%s}} before any step saves it", st.Name, m[1])
				}
			}
		}
		for k := range st.Save {
			known[k] = true
		}
		if st.Operation == "" {
			if !strings.HasPrefix(st.Sim, "/__sim/") {
				t.Errorf("step %q calls neither a route nor the simulator", st.Name)
			}
			continue
		}
		rt, ok := byOp[st.Operation]
		if !ok {
			t.Errorf("step %q: no route %q", st.Name, st.Operation)
			continue
		}
		walked[st.Operation] = true
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			if st.Path[m[1]] == "" {
				t.Errorf("step %q: path parameter %s missing", st.Name, m[1])
			}
		}
		for name := range st.Query {
			if !slices.ContainsFunc(rt.Query, func(p param) bool { return p.Name == name }) && st.Status != 400 {
				t.Errorf("step %q: %s takes no query parameter %q", st.Name, rt.Operation, name)
			}
		}
	}
	for op := range byOp {
		// The codec server answers by its own rules (a session, origins, a codec or none):
		// systest/apiit's security tests and the e2e suite drive it.
		if !walked[op] && !strings.HasPrefix(op, "codec") {
			t.Errorf("the walk never takes %s", op)
		}
	}
}
