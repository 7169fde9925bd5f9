// Package codec seals business data in Temporal: a payload codec that encrypts every workflow and
// activity payload with AES-256-GCM, the keyring it draws keys from, helpers that plug it into a
// Temporal client, and the codec server that lets Temporal Web and the `temporal` CLI show the
// decrypted payloads to the clients allowed to see them. Search attributes do not pass through a
// payload codec, so they stay readable (they are the only clear data; workflows.SearchAttributes
// lists them).
package codec

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Environment variables.
const (
	// EnvKeys holds the keyring, newest key first: "k2:<base64 32 bytes>,k1:<base64 32 bytes>".
	// Secret; RIMFLOW_CODEC_KEYS_FILE names a file of the same entries (one a line, '#' comments).
	EnvKeys = "RIMFLOW_CODEC_KEYS"
	// EnvEncryption is "on" (the default) or "off". Off stops encrypting new payloads; configured
	// keys still decrypt the payloads written while it was on.
	EnvEncryption = "RIMFLOW_PAYLOAD_ENCRYPTION"
)

// KeySize is AES-256's key length in bytes.
const KeySize = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Keyring holds the keys by ID. The first key encrypts; every key decrypts, so a rotation (a new
// key put first) loses no bill written under an older one.
type Keyring struct {
	ids      []string // newest first
	aeads    map[string]cipher.AEAD
	material map[string]string // key bytes -> ID, only to refuse one key under two IDs
}

// IDs lists the key IDs, newest (the encrypting key) first. IDs are not secret; keys are.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Derive is one key per key ID for another purpose (HMAC-SHA256 of the purpose under the key):
// independent of the encryption key and of every other purpose's, and held by exactly the programs
// that hold the keyring. internal/voice signs the API's updates with them.
func (k *Keyring) Derive(purpose string) map[string][]byte {
	out := map[string][]byte{}
	for material, id := range k.material {
		h := hmac.New(sha256.New, []byte(material))
		h.Write([]byte(purpose))
		out[id] = h.Sum(nil)
	}
	return out
}

// Current is the ID of the key that encrypts.
func (k *Keyring) Current() string { return k.ids[0] }

// String shows the key IDs only.
func (k *Keyring) String() string { return "keyring[" + strings.Join(k.ids, ",") + "]" }

// ParseKeyring reads entries "<id>:<base64 key>" separated by commas or newlines; blank lines and
// lines starting with '#' are skipped. source names where the spec came from in errors (a variable
// or a file). Errors name the entry's position or key ID, never key material.
func ParseKeyring(source, spec string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}, material: map[string]string{}}
	var problems []string
	n := 0
	for _, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			if why := k.add(entry); why != "" {
				problems = append(problems, fmt.Sprintf("entry %d: %s", n, why))
			}
		}
	}
	if n == 0 {
		problems = append(problems, "no key: expected <keyId>:<base64 of 32 random bytes>, newest first")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", source, strings.Join(problems, "; "))
	}
	return k, nil
}

func (k *Keyring) add(entry string) string {
	id, material, ok := strings.Cut(entry, ":")
	id = strings.TrimSpace(id)
	if !ok || id == "" {
		// Never echo the entry: without its ':' it may be a bare key.
		return "expected <keyId>:<base64 key>"
	}
	if !keyIDPattern.MatchString(id) {
		return fmt.Sprintf("key ID %q: letters, digits, '.', '_' or '-', at most 64", id)
	}
	if _, dup := k.aeads[id]; dup {
		return fmt.Sprintf("key %q appears twice", id)
	}
	key, err := decodeKey(strings.TrimSpace(material))
	if err != nil {
		return fmt.Sprintf("key %q: %v", id, err)
	}
	if first, dup := k.material[string(key)]; dup {
		return fmt.Sprintf("key %q is the same key as %q: a new key ID needs a new key", id, first)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Sprintf("key %q: %v", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Sprintf("key %q: %v", id, err)
	}
	k.ids = append(k.ids, id)
	k.aeads[id] = aead
	k.material[string(key)] = id
	return ""
}

// decodeKey accepts standard or URL base64, padded or not, of exactly KeySize bytes.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("no key material after ':'")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != KeySize {
			return nil, fmt.Errorf("must be %d bytes (AES-256), got %d", KeySize, len(b))
		}
		if bytes.Count(b, b[:1]) == len(b) {
			return nil, errors.New("every byte is the same: a placeholder, not a random key")
		}
		return b, nil
	}
	return nil, errors.New("not base64")
}

// Settings is what the environment asks for: whether to encrypt, and with which keys.
type Settings struct {
	Encrypt bool
	Keys    *Keyring // nil when none is configured
}

// ReadEnv reads RIMFLOW_PAYLOAD_ENCRYPTION and the keyring from RIMFLOW_CODEC_KEYS or the file
// named by RIMFLOW_CODEC_KEYS_FILE (not both). It does not demand keys; NewFromSettings does.
func ReadEnv(getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	s := Settings{Encrypt: true}
	switch mode := strings.ToLower(strings.TrimSpace(getenv(EnvEncryption))); mode {
	case "", "on":
	case "off":
		s.Encrypt = false
	default:
		return Settings{}, fmt.Errorf("%s: must be on or off, got %q", EnvEncryption, mode)
	}
	inline := getenv(EnvKeys)
	file := strings.TrimSpace(getenv(EnvKeys + "_FILE"))
	switch {
	case strings.TrimSpace(inline) != "" && file != "":
		return Settings{}, fmt.Errorf("%s: set either %s or %s_FILE, not both", EnvKeys, EnvKeys, EnvKeys)
	case strings.TrimSpace(inline) != "":
		k, err := ParseKeyring(EnvKeys, inline)
		if err != nil {
			return Settings{}, err
		}
		s.Keys = k
	case file != "":
		k, err := ReadKeyFile(file)
		if err != nil {
			return Settings{}, err
		}
		s.Keys = k
	}
	return s, nil
}

// ReadKeyFile reads a keyring file (entries one a line, newest first; '#' comments).
func ReadKeyFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s_FILE: cannot read key file %q: %w", EnvKeys, path, errors.Unwrap(err))
	}
	return ParseKeyring(fmt.Sprintf("key file %q", filepath.Clean(path)), string(b))
}

// ErrNoKeys is returned when encryption is on and no key is configured.
var ErrNoKeys = fmt.Errorf("%s: payload encryption is on (the default) but no key is configured: set %s or %s_FILE (newest key first), or set %s=off",
	EnvKeys, EnvKeys, EnvKeys, EnvEncryption)

// NewFromSettings makes the codec the settings ask for: encrypting with the newest key; or, with
// encryption off, decrypting only (old bills stay readable); or nil when off and keyless (Temporal
// then stores payloads as they are). Encryption on without keys is ErrNoKeys.
func NewFromSettings(s Settings) (*Codec, error) {
	switch {
	case s.Keys == nil && s.Encrypt:
		return nil, ErrNoKeys
	case s.Keys == nil:
		return nil, nil
	}
	return &Codec{keys: s.Keys, encrypt: s.Encrypt}, nil
}

// LoadEnv is ReadEnv then NewFromSettings: what the worker, the API and the CLI call.
func LoadEnv(getenv func(string) string) (*Codec, error) {
	s, err := ReadEnv(getenv)
	if err != nil {
		return nil, err
	}
	return NewFromSettings(s)
}

// LoadEnvOrKeyFile is LoadEnv for the devstack and compose, where encryption is on by default
// without any setup: when encryption is on and no key is configured, it uses the key file at
// defaultPath, creating it with a fresh key on first start (EnsureKeyFile). created reports that.
func LoadEnvOrKeyFile(getenv func(string) string, defaultPath string) (c *Codec, created bool, err error) {
	s, err := ReadEnv(getenv)
	if err != nil {
		return nil, false, err
	}
	return NewFromSettingsOrKeyFile(s, defaultPath)
}

// NewFromSettingsOrKeyFile is NewFromSettings, except that encryption on without keys uses the key
// file at defaultPath, created with a fresh key on first start (EnsureKeyFile). created reports that.
func NewFromSettingsOrKeyFile(s Settings, defaultPath string) (c *Codec, created bool, err error) {
	if s.Keys == nil && s.Encrypt {
		if created, err = EnsureKeyFile(defaultPath, "k1"); err != nil {
			return nil, false, err
		}
		if s.Keys, err = ReadKeyFile(defaultPath); err != nil {
			return nil, false, err
		}
	}
	c, err = NewFromSettings(s)
	return c, created, err
}
