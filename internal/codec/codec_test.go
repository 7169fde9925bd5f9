package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// testKey is a fresh random keyring entry.
func testKey(t *testing.T, id string) string {
	t.Helper()
	e, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustRing(t *testing.T, spec string) *Keyring {
	t.Helper()
	k, err := ParseKeyring("test", spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

// bill is shaped like the data a bill carries: what must never be readable in Temporal's history.
type bill struct {
	InvoiceNo string `json:"invoiceNo"`
	Company   string `json:"company"`
	Amount    string `json:"amount"`
	EventCode string `json:"eventCode"`
}

var secretBill = bill{InvoiceNo: "04410987", Company: "金蝶票据云科技(深圳)有限公司", Amount: "1234.56", EventCode: "EVT-7f3a9c"}

func clearTexts() []string {
	return []string{secretBill.InvoiceNo, secretBill.Company, secretBill.Amount, secretBill.EventCode}
}

func TestDataConverterSealsAndRestores(t *testing.T) {
	c := New(mustRing(t, testKey(t, "k1")))
	dc := c.DataConverter()
	p, err := dc.ToPayload(secretBill)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata["encoding"]); got != EncodingEncrypted {
		t.Fatalf("encoding = %q", got)
	}
	if got := string(p.Metadata[MetadataKeyID]); got != "k1" {
		t.Fatalf("key id = %q", got)
	}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range clearTexts() {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("sealed payload shows %q", clear)
		}
	}
	if bytes.Contains(raw, []byte("json/plain")) {
		t.Error("sealed payload shows the inner encoding")
	}
	var back bill
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back != secretBill {
		t.Fatalf("round trip = %+v", back)
	}
	// A random nonce per payload: the same value never seals to the same bytes.
	p2, _ := dc.ToPayload(secretBill)
	if bytes.Equal(p.Data, p2.Data) {
		t.Fatal("two encryptions of one value are identical")
	}
}

func TestDecodePassesPlainPayloadsThrough(t *testing.T) {
	c := New(mustRing(t, testKey(t, "k1")))
	// What Temporal Web or `temporal workflow signal --input` sends without a codec: plain JSON.
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"role": "finance", "decision": "approve"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := c.DataConverter().FromPayload(plain, &got); err != nil {
		t.Fatalf("plain payload refused: %v", err)
	}
	if got["role"] != "finance" || got["decision"] != "approve" {
		t.Fatalf("read %v", got)
	}
	// Mixed batch: the plain one is returned as is, the sealed one opened.
	sealed, _ := c.Encode([]*commonpb.Payload{plain})
	out, err := c.Decode([]*commonpb.Payload{plain, sealed[0]})
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != plain || !bytes.Equal(out[1].Data, plain.Data) {
		t.Fatal("mixed batch not decoded payload by payload")
	}
}

func TestKeyRotationKeepsOldBillsReadable(t *testing.T) {
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	before := New(mustRing(t, k1))
	p, err := before.DataConverter().ToPayload(secretBill)
	if err != nil {
		t.Fatal(err)
	}
	after := New(mustRing(t, k2+","+k1)) // the new key first
	var back bill
	if err := after.DataConverter().FromPayload(p, &back); err != nil || back != secretBill {
		t.Fatalf("old payload after rotation: %+v, %v", back, err)
	}
	p2, _ := after.DataConverter().ToPayload(secretBill)
	if got := string(p2.Metadata[MetadataKeyID]); got != "k2" {
		t.Fatalf("after rotation encrypts with %q, want k2", got)
	}
	// Dropping the old key too early is a clear error naming the key, not garbage.
	tooEarly := New(mustRing(t, k2))
	err = tooEarly.DataConverter().FromPayload(p, &back)
	if err == nil || !strings.Contains(err.Error(), `encrypted with key "k1", which is not in the keyring ([k2])`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeRefusesDamagedPayloads(t *testing.T) {
	entry := testKey(t, "k1")
	c := New(mustRing(t, entry))
	sealed, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"a":1}`)}})
	if err != nil {
		t.Fatal(err)
	}
	good := sealed[0]
	clone := func(mut func(p *commonpb.Payload)) *commonpb.Payload {
		p := &commonpb.Payload{Metadata: map[string][]byte{}, Data: append([]byte(nil), good.Data...)}
		for k, v := range good.Metadata {
			p.Metadata[k] = v
		}
		mut(p)
		return p
	}
	other := base64.StdEncoding.EncodeToString(randomBytes(t, KeySize))
	tests := []struct {
		name string
		c    *Codec
		p    *commonpb.Payload
		want string
	}{
		{"flipped ciphertext bit", c, clone(func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }), `cannot decrypt with key "k1"`},
		{"key id swapped (it is authenticated data)", sameKeyTwice(t, entry),
			clone(func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k0") }), `cannot decrypt with key "k0"`},
		{"another key under the same ID", New(mustRing(t, "k1:"+other)), good, `cannot decrypt with key "k1"`},
		{"truncated", c, clone(func(p *commonpb.Payload) { p.Data = p.Data[:10] }), "encrypted payload too short (10 bytes)"},
		{"no key id", c, clone(func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) }), `encrypted with key "", which is not in the keyring`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Decode([]*commonpb.Payload{tt.p})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), other) || strings.Contains(err.Error(), strings.SplitN(entry, ":", 2)[1]) {
				t.Fatal("error shows key material")
			}
		})
	}
}

func TestEncodeIsIdempotentAndDecryptOnlyMode(t *testing.T) {
	ring := mustRing(t, testKey(t, "k1"))
	c := New(ring)
	once, _ := c.Encode([]*commonpb.Payload{{Data: []byte("x")}})
	twice, _ := c.Encode(once)
	if twice[0] != once[0] {
		t.Fatal("an encrypted payload was encrypted again")
	}
	off, err := NewFromSettings(Settings{Encrypt: false, Keys: ring})
	if err != nil || off.Encrypting() {
		t.Fatalf("decrypt-only codec: %v, encrypting=%v", err, off.Encrypting())
	}
	plain := &commonpb.Payload{Data: []byte("new bill")}
	out, _ := off.Encode([]*commonpb.Payload{plain})
	if out[0] != plain {
		t.Fatal("encryption off still encrypts")
	}
	dec, err := off.Decode(once)
	if err != nil || string(dec[0].Data) != "x" {
		t.Fatalf("encryption off no longer reads old payloads: %v", err)
	}
	if !strings.Contains(off.String(), "decrypt-only") || !strings.Contains(c.String(), "encrypting with k1") {
		t.Fatalf("String: %q / %q", off, c)
	}
}

func TestFailureConverterSealsMessages(t *testing.T) {
	c := New(mustRing(t, testKey(t, "k1")))
	fc := c.FailureConverter()
	appErr := temporal.NewApplicationError("serialNo "+secretBill.InvoiceNo+" is bound to another bill", "Conflict")
	f := fc.ErrorToFailure(appErr)
	raw, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secretBill.InvoiceNo)) {
		t.Fatal("failure shows the invoice number in clear")
	}
	back := fc.FailureToError(f)
	var ae *temporal.ApplicationError
	if !errors.As(back, &ae) || !strings.Contains(ae.Error(), secretBill.InvoiceNo) || ae.Type() != "Conflict" {
		t.Fatalf("failure round trip = %v", back)
	}
}

func TestApplyAndNilCodec(t *testing.T) {
	var opts client.Options
	var none *Codec
	none.Apply(&opts)
	if opts.DataConverter != nil || opts.FailureConverter != nil {
		t.Fatal("nil codec changed the options")
	}
	if none.DataConverter() != converter.GetDefaultDataConverter() {
		t.Fatal("nil codec's converter is not the default")
	}
	c := New(mustRing(t, testKey(t, "k1")))
	c.Apply(&opts)
	p, err := opts.DataConverter.ToPayload("x")
	if err != nil || string(p.Metadata["encoding"]) != EncodingEncrypted {
		t.Fatalf("applied converter does not encrypt: %v", err)
	}
	if opts.FailureConverter == nil {
		t.Fatal("failure converter not set")
	}
}

// sameKeyTwice holds k1's key under k0 too (ParseKeyring refuses that), so only the additional
// authenticated data tells a payload sealed under k1 from one under k0.
func sameKeyTwice(t *testing.T, entry string) *Codec {
	ring := mustRing(t, entry)
	ring.ids = append(ring.ids, "k0")
	ring.aeads["k0"] = ring.aeads["k1"]
	return New(ring)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
