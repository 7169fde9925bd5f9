package harness

import (
	"fmt"
	"io"
)

// WriteHowTo prints a few lines showing how to drive a bill by hand against this stack.
func (s *Stack) WriteHowTo(w io.Writer) {
	auth := ""
	if s.opts.APIToken != "" {
		auth = ` -H "Authorization: Bearer $RIMFLOW_API_TOKEN"`
	} else {
		fmt.Fprintf(w, "note: the HTTP API is open (no --api-token); it listens on %s only\n", hostPort(s.apiURL))
	}
	fmt.Fprintf(w, `try a bill:
  curl -s%[2]s -X POST %[1]s/v1/bills -H 'Content-Type: application/json' \
    -d '{"billId":"B-1","billNo":"BX-0001","billType":"expense","resource":"OA","billTaxNo":"%[4]s","userId":"u1","companyInfo":[{"taxNo":"%[4]s","name":"示例科技有限公司"}]}'
  open the "collect.pc" URL it answers, tick invoices, click 导入单据
  curl -s%[2]s %[1]s/v1/bills/OA/B-1
  curl -s%[2]s -X POST %[1]s/v1/bills/OA/B-1/approvals -H 'Content-Type: application/json' -H 'X-Acting-User: alice' \
    -d '{"role":"supervisor","decision":"approve"}'
  watch it in Temporal Web: %[3]s/namespaces/default/workflows
`, s.apiURL, auth, s.UIURL(), DemoTaxNo)
	if s.opsURL != "" {
		fmt.Fprintf(w, "metrics (no token, this machine): curl -s %s/metrics\n", s.opsURL)
	} else {
		fmt.Fprintf(w, "metrics (the metrics operation; --ops-addr serves them without one): curl -s%s %s/metrics\n", auth, s.apiURL)
	}
	switch {
	case s.Codec == nil:
		fmt.Fprintln(w, "payloads are stored in Temporal as they are (encryption off)")
	case s.opts.APIToken == "" && s.opts.APIClients.Open():
		fmt.Fprintf(w, "payloads are encrypted in Temporal; Temporal Web decodes them through %s\n", s.CodecURL())
	default:
		fmt.Fprintf(w, "payloads are encrypted in Temporal; to read them in Temporal Web, sign in once at %s/login\n", s.CodecURL())
	}
}
