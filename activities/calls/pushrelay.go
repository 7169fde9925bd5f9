package calls

import "encoding/json"

// The push relay (AWS收票推送 passed on to the image system): one workflow per bill, started and
// signalled by the API once a push is recorded in the bill, that sends the bill's pushes to the
// enterprise's image system one at a time, in the order received, each until it is answered with
// success (docs/enterprises.md, "The image system's push").
const (
	PushRelayWorkflowName = "PushRelayWorkflow"
	// SignalRelayPush hands a recorded push to the bill's relay (RelayPush).
	SignalRelayPush = "relayPush"
)

// PushRelayRecent bounds PushRelayInput.Recent.
const PushRelayRecent = 100

// PushRelayWorkflowID is the relay workflow of the bill whose workflow ID is billWorkflowID.
func PushRelayWorkflowID(billWorkflowID string) string { return billWorkflowID + "/push-relay" }

// RelayPush is one push to relay: the enterprise that pushed it, its msgId and the push as it
// decrypted (invoicecloud.Push.Plain), sealed again when sent.
type RelayPush struct {
	TaxNo string          `json:"taxNo"`
	MsgID string          `json:"msgId"`
	Push  json.RawMessage `json:"push"`
}

// RoutingTaxNo is the enterprise that pushed.
func (in RelayPush) RoutingTaxNo() string { return in.TaxNo }

// PushRelayInput starts (or continues) a bill's relay with the pushes still to send, oldest first.
type PushRelayInput struct {
	Pending []RelayPush `json:"pending,omitempty"`
	// Relayed is how many pushes earlier runs sent (the state query shows it).
	Relayed int `json:"relayed,omitempty"`
	// Recent are the msgIds relayed last (at most PushRelayRecent): one signalled again is not sent again.
	Recent []string `json:"recent,omitempty"`
}
