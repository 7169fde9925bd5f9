package codec

import (
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"rimflow/internal/callheader"
	"rimflow/internal/voice"
)

// Metadata of an encrypted payload. The original payload (its metadata and data) is the plaintext,
// so decoding restores it exactly.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
	metadataEncoding  = converter.MetadataEncoding // "encoding"
)

// Codec is a converter.PayloadCodec: AES-256-GCM with a random nonce per payload, the key ID in the
// payload's metadata and as additional authenticated data.
type Codec struct {
	keys    *Keyring
	encrypt bool
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New is a codec that encrypts with the keyring's newest key and decrypts with any of its keys.
func New(keys *Keyring) *Codec { return &Codec{keys: keys, encrypt: true} }

// Encrypting reports whether Encode encrypts (false: decrypt-only, encryption switched off).
func (c *Codec) Encrypting() bool { return c.encrypt }

// Keys is the keyring (IDs only are printable).
func (c *Codec) Keys() *Keyring { return c.keys }

// String never shows a key.
func (c *Codec) String() string {
	mode := "encrypting with " + c.keys.Current()
	if !c.encrypt {
		mode = "decrypt-only (encryption off)"
	}
	return fmt.Sprintf("AES-256-GCM payload codec, %s, %s", mode, c.keys)
}

// Encode encrypts every payload that is not encrypted yet (so encoding twice is harmless).
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if !c.encrypt {
		return payloads, nil
	}
	id := c.keys.Current()
	aead := c.keys.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if isEncrypted(p) {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("payload %d: marshal: %w", i, err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("payload %d: nonce: %w", i, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				metadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(id),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes every other payload through unchanged: a signal
// an operator typed into Temporal Web or the `temporal` CLI arrives as plain JSON and is read as is.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !isEncrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys.aeads[id]
		if !ok {
			return payloads, fmt.Errorf("payload %d: encrypted with key %q, which is not in the keyring (%v): add the old key after the new one", i, id, c.keys.ids)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return payloads, fmt.Errorf("payload %d: encrypted payload too short (%d bytes)", i, len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return payloads, fmt.Errorf("payload %d: cannot decrypt with key %q: corrupt, tampered or another key under that ID", i, id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return payloads, fmt.Errorf("payload %d: decrypted data is not a payload: %w", i, err)
		}
		out[i] = &orig
	}
	return out, nil
}

func isEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[metadataEncoding]) == EncodingEncrypted
}

// DataConverter is Temporal's default data converter with this codec behind it. A nil codec is the
// default converter (encryption off, no keys).
func (c *Codec) DataConverter() converter.DataConverter {
	if c == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter also seals error messages and stack traces (a failure's message can hold an
// invoice number or an amount): they travel in the failure's encoded attributes, which this codec
// encrypts. A nil codec is Temporal's default failure converter.
func (c *Codec) FailureConverter() converter.FailureConverter {
	if c == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}

// Apply plugs the codec into client options (the worker, the API, the CLI dial with them; a worker
// uses its client's converters). A nil codec leaves the options unchanged.
func (c *Codec) Apply(opts *client.Options) {
	if c == nil {
		return
	}
	opts.DataConverter = c.DataConverter()
	opts.FailureConverter = c.FailureConverter()
	// The program signs the updates it vouches for with keys derived from these (Voice); the
	// interceptor carries a signature into the update's header.
	callheader.Install(opts)
}

// Voice is the keys the API signs its updates with and the worker checks them with: derived from
// the payload keys, the newest signing. Nil for a nil codec (no update is vouched for then).
func (c *Codec) Voice() *voice.Keys {
	if c == nil {
		return nil
	}
	return voice.NewKeys(c.keys.Current(), c.keys.Derive(voice.Purpose))
}
