// Command postman writes the Postman collection of rimflow's API (api.PostmanCollection): the
// ERP's walk over the route table, for newman. `go generate ./api` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"rimflow/api"
)

func main() {
	out := flag.String("o", api.PostmanFile, "where to write the collection (- for stdout)")
	flag.Parse()
	b, err := api.PostmanCollection()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postman:", err)
		os.Exit(1)
	}
	if *out == "-" {
		_, _ = os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "postman:", err)
		os.Exit(1)
	}
}
