package invoicecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"rimflow/invoicecloud/aesecb"
)

// Relaying a push to the image system (AWS收票推送). The vendor's push table has one address per
// enterprise, and the image system's match and sync modes need the push (docs/invoicecloud.md,
// "The standard edition's guide": 收票配置). When rimflow takes the push, it passes each one on
// to the image system's push address once recorded, in the push's own scheme [assumed: the image
// system reads what the cloud would have sent it]: the same JSON and msgId (the image system drops
// a repeat by it), sealed again with the enterprise's encrypt_key and a fresh timestamp, so a relay
// that waited out an outage is not refused as a stale replay.

// SealPush is the body of a push to send: plain (a push's JSON, Push.Plain) with its timestamp set
// to now, encrypted with the enterprise's encrypt_key.
func SealPush(e PushEnterprise, plain []byte, now time.Time) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(plain, &fields); err != nil || fields == nil {
		return "", fmt.Errorf("push: not a JSON object")
	}
	fields["timestamp"] = json.RawMessage(strconv.FormatInt(now.UnixMilli(), 10))
	out, err := json.Marshal(fields)
	if err != nil {
		return "", err
	}
	return aesecb.Encrypt(e.EncryptKey, out)
}

// PushRefusedError is a push answered without success: HTTP status and errcode as answered.
type PushRefusedError struct {
	Status  int
	Errcode string
}

func (e *PushRefusedError) Error() string {
	return fmt.Sprintf("push answered HTTP %d errcode %q, want 200 errcode 0000", e.Status, e.Errcode)
}

// SendPush POSTs a sealed push to url as the cloud does; nil only for the success answer (HTTP 2xx
// with errcode 0000), anything else is to be sent again.
func SendPush(ctx context.Context, client *http.Client, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a struct {
		Errcode json.RawMessage `json:"errcode"`
	}
	_ = json.Unmarshal(raw, &a)
	code := string(bytes.Trim(a.Errcode, `" `))
	if resp.StatusCode/100 != 2 || code != pushOK {
		return &PushRefusedError{Status: resp.StatusCode, Errcode: code}
	}
	return nil
}
