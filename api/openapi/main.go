// Command openapi writes the OpenAPI document rimflow's API serves at /v1/openapi.json (built from
// the route table), for linters: CI lints it with spectral (.ci/run).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"rimflow/api"
)

func main() {
	out := flag.String("o", "-", "where to write the document (- for stdout)")
	flag.Parse()
	b, err := json.MarshalIndent(api.OpenAPI(), "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	b = append(b, '\n')
	if *out == "-" {
		_, _ = os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}
