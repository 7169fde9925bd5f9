package itest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"rimflow/cloudsim/simulator"
	"rimflow/devstack/harness"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
	"rimflow/workflows"
)

// A group of four enterprises on one simulator: two on the ultimate edition sharing one oauth2
// tenant that holds two accounting organisations, two on the standard edition, one of which has a
// wrong secret in the registry. One bill each, at once: every bill's cloud calls go to its own
// enterprise — the simulator's ledgers show each bill's invoices bound under it (edition,
// enterprise, organisation) and nowhere else — and only the bill of the enterprise with the wrong
// secret fails, with a reason naming that enterprise and the field.
func TestFourEnterprisesAtOnce(t *testing.T) {
	type ent struct {
		key, taxNo, name string
		edition          enterprises.Edition
		org              string
		wrongSecret      bool
	}
	group := []ent{
		{"U1", "91310000MA1FL0U013", "上海集团母公司", ultimate.Name, "1001", false},
		{"U2", "91310000MA1FL0U026", "上海集团子公司", ultimate.Name, "1002", false},
		{"S1", "91440300MA5G0T001Q", "深圳标准版一号", standard.Name, "", false},
		{"S2", "91440300MA5G0T002U", "深圳标准版二号", standard.Name, "", true},
	}
	var tenants = []simulator.Tenant{simulator.UltimateTenant()}
	for _, e := range group {
		if e.edition == standard.Name {
			tenants = append(tenants, simulator.Tenant{Edition: simulator.EditionStandard, Name: e.name, TaxNo: e.taxNo,
				ClientID: "CID-" + e.key, ClientSecret: "secret-of-" + e.key, EncryptKey: e.key + "-encryptkey-16"})
		}
	}
	opts := lenient.options(51)
	opts.Tenants = tenants
	env := harness.NewCloud(t, opts, nil)
	creds := simulator.DefaultCredentials()
	var specs []enterprises.Spec
	for _, e := range group {
		spec := enterprises.Spec{TaxNo: e.taxNo, Name: e.name, OrgNumber: e.org}
		if e.edition == ultimate.Name {
			spec.Settings = ultimate.Config{BaseURL: env.URL, AuthMode: ultimate.AuthOAuth2, ClientID: creds.ClientID,
				ClientSecret: creds.ClientSecret, Username: creds.Username, AccountID: creds.AccountID, Timeout: 10 * time.Second}
		} else {
			secret := "secret-of-" + e.key
			if e.wrongSecret {
				secret = "not-the-secret"
			}
			spec.Settings = standard.Config{BaseURL: env.URL, TaxNo: e.taxNo, CompanyName: e.name, ClientID: "CID-" + e.key,
				ClientSecret: secret, EncryptKey: e.key + "-encryptkey-16", Timeout: 10 * time.Second}
		}
		specs = append(specs, spec)
	}
	reg, err := enterprises.New(specs, enterprises.Options{})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	s := &stack{t: t, sim: env.Sim, simURL: env.URL, cloud: env.Client, queue: fmt.Sprintf("itest-ent-%d", queueSeq.Add(1)), enterprises: reg}
	s.startWorker()

	ids := map[string]string{}
	for _, e := range group {
		in := input("GRP-"+e.key, workflows.Options{})
		in.BillTaxNo = e.taxNo
		in.CompanyInfo = []invoicecloud.Company{{TaxNo: e.taxNo, Name: e.name}}
		ids[e.key] = s.start(in).GetID()
	}

	// The users of the three working enterprises import two invoices each from their bills'
	// collect URLs (the page of their own edition) while all four bills run.
	for _, e := range group {
		if e.wrongSecret {
			continue
		}
		st := waitStageE(t, ids[e.key], workflows.StageCollecting, func(s workflows.BillState) bool { return s.Collect.PC != "" })
		s.post("/__sim/collect", map[string]any{"url": st.Collect.PC, "count": 2}, nil)
	}

	for _, e := range group {
		if e.wrongSecret {
			st := waitStage(t, ids[e.key], workflows.StageFailed)
			label := fmt.Sprintf("enterprise %s (%s)", e.name, e.taxNo)
			if st.Error == nil || !strings.Contains(st.Error.Reason, label) {
				t.Errorf("%s: the failure does not name the enterprise %q: %+v", e.key, label, st.Error)
			} else if !strings.Contains(st.Error.Reason, "clientSecret") && st.Error.Field != "clientSecret" {
				t.Errorf("%s: the failure does not name the field clientSecret: %+v", e.key, st.Error)
			}
			if code := s.get("/__sim/bills/OA/GRP-"+e.key, nil); code != http.StatusNotFound {
				t.Errorf("%s: the simulator holds a bill for it (HTTP %d)", e.key, code)
			}
			record(t, ids[e.key], "enterprise_failed_"+e.key)
			continue
		}
		st := waitStage(t, ids[e.key], workflows.StageAwaitingSupervisor)
		mustUpdate(t, ids[e.key], workflows.UpdateApprove, approve("supervisor", workflows.DecisionApprove))
		mustUpdate(t, ids[e.key], workflows.UpdateApprove, approve("finance", workflows.DecisionApprove))
		waitStage(t, ids[e.key], workflows.StageAwaitingVoucher)
		mustUpdate(t, ids[e.key], workflows.UpdateVoucher, voucher())
		waitStage(t, ids[e.key], workflows.StageCompleted)

		b := s.bill("GRP-" + e.key)
		wantEdition := simulator.EditionUltimate
		if e.edition == standard.Name {
			wantEdition = simulator.EditionStandard
		}
		if b.Edition != wantEdition || b.Enterprise != e.taxNo || b.BillTaxNo != e.taxNo || b.OrgNumber != e.org {
			t.Errorf("%s: the simulator has the bill under edition %s, enterprise %s, tax number %s, organisation %q; want %s, %s, %s, %q",
				e.key, b.Edition, b.Enterprise, b.BillTaxNo, b.OrgNumber, wantEdition, e.taxNo, e.taxNo, e.org)
		}
		if len(b.Invoices) != 2 || st.InvoiceCount != 2 {
			t.Errorf("%s: %d invoices bound in the simulator, %d in the bill; want 2", e.key, len(b.Invoices), st.InvoiceCount)
		}
		for _, inv := range b.Invoices {
			if inv.Status != invoicecloud.StatusUsed {
				t.Errorf("%s: invoice %s status %s, want 60", e.key, inv.SerialNo, inv.Status)
			}
			// Nowhere else: no other bill of the group holds it.
			for _, other := range group {
				if other.key == e.key || other.wrongSecret {
					continue
				}
				for _, o := range s.bill("GRP-" + other.key).Invoices {
					if o.SerialNo == inv.SerialNo {
						t.Errorf("invoice %s of %s is also bound to %s", inv.SerialNo, e.key, other.key)
					}
				}
			}
		}
		if b.Voucher == nil {
			t.Errorf("%s: no voucher in the simulator", e.key)
		}
		record(t, ids[e.key], "enterprise_"+string(e.edition)+"_"+e.key)
	}
}

// waitStageE waits for stage and a condition on the state.
func waitStageE(t *testing.T, wfID string, stage workflows.Stage, ok func(workflows.BillState) bool) workflows.BillState {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var s workflows.BillState
	for time.Now().Before(deadline) {
		s = state(t, wfID)
		if s.Stage == stage && ok(s) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("bill %s never reached %s with its condition; last state %s, error %+v", wfID, stage, s.Stage, s.Error)
	return s
}
