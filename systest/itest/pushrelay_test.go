package itest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/activities/calls"
	"rimflow/cloudsim/simulator"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/workflows"
)

// A bill's push relay as the API starts it (signal-with-start of PushRelayWorkflow on the bills'
// task queue, one push a signal): the enterprise's image system (the simulator's, at its own
// address) takes both pushes, in the order signalled. Its history joins the replay tests
// (push_relay).
func TestPushRelayReachesTheImageSystem(t *testing.T) {
	tenant := simulator.Tenant{Edition: simulator.EditionStandard, Name: "上海标准版示例有限公司", TaxNo: "91310115MA1K4L8R2X",
		ClientID: "IT-RELAY", ClientSecret: "it-relay-secret", EncryptKey: "itRelayEncrypt16", ImageFromPushes: true}
	s := newStackOn(t, simulator.Options{Seed: 61, PollHold: 2 * time.Second, Tenants: []simulator.Tenant{tenant}}, func(s *stack) {
		reg, err := enterprises.New([]enterprises.Spec{{TaxNo: tenant.TaxNo, Name: tenant.Name,
			Settings: standard.Config{BaseURL: s.simURL, TaxNo: tenant.TaxNo, CompanyName: tenant.Name, ClientID: tenant.ClientID,
				ClientSecret: tenant.ClientSecret, EncryptKey: tenant.EncryptKey},
			Push:  &invoicecloud.PushEnterprise{TaxNo: tenant.TaxNo, Name: tenant.Name, ClientID: tenant.ClientID, EncryptKey: tenant.EncryptKey},
			Image: &enterprises.ImageSystem{BaseURL: s.simURL + simulator.ImageSystemPrefix, Push: enterprises.PushRelay}}}, enterprises.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.enterprises = reg
	})
	id := calls.PushRelayWorkflowID("bill:OA:IT-RELAY")
	push := func(msgID, serial string) calls.RelayPush {
		plain, err := json.Marshal(map[string]any{"msgId": msgID, "timestamp": time.Now().UnixMilli(), "client_id": tenant.ClientID,
			"tin": tenant.TaxNo, "ghf_mc": tenant.Name, "eventType": "push-invoice", "bxd_key": "IT-RELAY", "billNumber": "BX-IT-RELAY",
			"resource": "OA", "data": map[string]any{"data": []map[string]any{{"serialNo": serial, "invoiceNo": "2000" + serial, "totalAmount": "10.00"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return calls.RelayPush{TaxNo: tenant.TaxNo, MsgID: msgID, Push: plain}
	}
	for i, msgID := range []string{"IT-M1", "IT-M2"} {
		if _, err := tc.SignalWithStartWorkflow(ctxT(t), id, calls.SignalRelayPush, push(msgID, fmt.Sprintf("S%d", i+1)),
			client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, calls.PushRelayWorkflowName, calls.PushRelayInput{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = tc.TerminateWorkflow(ctxT(t), id, "", "test over") })
	var st workflows.PushRelayState
	waitFor(t, "the relay to send both pushes", func() bool {
		q, err := tc.QueryWorkflow(ctxT(t), id, "", workflows.QueryState)
		return err == nil && q.Get(&st) == nil && st.Relayed == 2 && len(st.Pending) == 0
	})
	got := s.sim.ImagePushes()
	if len(got) != 2 || got[0].MsgID != "IT-M1" || got[1].MsgID != "IT-M2" || !slices.Equal(got[1].SerialNos, []string{"S2"}) {
		t.Fatalf("the image system received %+v, want IT-M1 then IT-M2", got)
	}
	record(t, id, "push_relay")
}
