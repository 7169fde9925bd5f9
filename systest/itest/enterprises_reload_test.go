package itest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
	"rimflow/workflows"
)

// TestRegistryReloadThatLosesAnEnterprise: a reload of the enterprise registry drops an enterprise
// (a half-written file, an edit by mistake) while one of its bills binds. Put back soon, the bill
// goes on as if nothing happened: its step was retried, not failed. Gone for longer than the
// worker's grace, the bill fails naming the enterprise's tax number, and a retry once it is back
// goes on.
func TestRegistryReloadThatLosesAnEnterprise(t *testing.T) {
	for _, c := range []struct {
		name     string
		grace    time.Duration
		comeBack bool
	}{
		{"back-within-grace", time.Hour, true},
		{"gone-past-grace", 2 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			const taxNo = "91310000MA1FL0001X"
			env := harness.NewCloud(t, lenient.options(213), nil)
			spec := ultimateSpec(env, taxNo, "上海重载测试有限公司")
			reg, err := enterprises.New([]enterprises.Spec{spec}, enterprises.Options{})
			if err != nil {
				t.Fatalf("registry: %v", err)
			}
			s := &stack{t: t, sim: env.Sim, simURL: env.URL, cloud: env.Client, queue: fmt.Sprintf("itest-reload-%d", queueSeq.Add(1)),
				enterprises: reg, enterpriseGrace: c.grace}
			s.startWorker()
			billID := "RELOAD-" + c.name
			in := input(billID, workflows.Options{})
			in.BillTaxNo = taxNo
			in.CompanyInfo = []invoicecloud.Company{{TaxNo: taxNo, Name: spec.Name}}
			id := s.start(in).GetID()
			code := s.collectURL(id).EventCode
			waitFor(t, "the watcher listening", func() bool { return s.activityAttempt(id, "WatchInvoices") == 1 })

			// The reload loses the enterprise; the user imports meanwhile and the bind cannot find
			// its cloud.
			if _, err := reg.Replace(nil); err != nil {
				t.Fatal(err)
			}
			serials := s.collect(code, 2)
			if c.comeBack {
				// The step that meets the lost registry is retried: the bind (the watcher was
				// already listening) or the watcher (it had not looked its cloud up yet).
				waitFor(t, "a step retried", func() bool {
					return s.activityAttempt(id, "BindInvoices") >= 2 || s.activityAttempt(id, "WatchInvoices") >= 2
				})
				if _, err := reg.Replace([]enterprises.Spec{spec}); err != nil {
					t.Fatal(err)
				}
				st := waitStage(t, id, workflows.StageAwaitingSupervisor)
				if st.Error != nil {
					t.Fatalf("the bill recorded a failure: %+v", st.Error)
				}
				s.cloudHolds(t, billID, serials, invoicecloud.StatusInUse)
				return
			}
			st := waitStage(t, id, workflows.StageFailed)
			if st.Error == nil || !strings.Contains(st.Error.Reason, taxNo) || st.Error.Field != "billTaxNo" {
				t.Fatalf("failure %+v: want one naming the enterprise %s and billTaxNo", st.Error, taxNo)
			}
			if _, err := reg.Replace([]enterprises.Spec{spec}); err != nil {
				t.Fatal(err)
			}
			mustUpdate(t, id, workflows.UpdateRetry, workflows.RetryRequest{By: "ops"})
			waitStage(t, id, workflows.StageAwaitingSupervisor)
			s.cloudHolds(t, billID, serials, invoicecloud.StatusInUse)
		})
	}
}

// ultimateSpec is an ultimate-edition enterprise on the simulator at env.
func ultimateSpec(env *harness.Cloud, taxNo, name string) enterprises.Spec {
	creds := simulator.DefaultCredentials()
	return enterprises.Spec{TaxNo: taxNo, Name: name, Settings: ultimate.Config{BaseURL: env.URL, AuthMode: ultimate.AuthOAuth2,
		ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, Username: creds.Username, AccountID: creds.AccountID, Timeout: 10 * time.Second}}
}

// activityAttempt is the attempt of the bill's pending activity of that type (0: none pending).
func (s *stack) activityAttempt(wfID, name string) int32 {
	d, err := tc.DescribeWorkflowExecution(ctxT(s.t), wfID, "")
	if err != nil {
		s.t.Fatalf("describe: %v", err)
	}
	for _, a := range d.GetPendingActivities() {
		if a.GetActivityType().GetName() == name {
			return a.GetAttempt()
		}
	}
	time.Sleep(20 * time.Millisecond)
	return 0
}
