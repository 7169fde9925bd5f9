package codec

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
)

func TestParseKeyring(t *testing.T) {
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	raw := randomBytes(t, KeySize)
	urlRaw := "u1:" + base64.RawURLEncoding.EncodeToString(raw)
	short := "s1:" + base64.StdEncoding.EncodeToString(randomBytes(t, 16))
	zeros := "z1:" + base64.StdEncoding.EncodeToString(make([]byte, KeySize))
	bare := strings.SplitN(k1, ":", 2)[1]

	good := []struct {
		name, spec string
		ids        string
	}{
		{"env form, newest first", k2 + "," + k1, "k2,k1"},
		{"file form with comments and blanks", "# keys\n\n" + k2 + "\n  " + k1 + "  \n", "k2,k1"},
		{"url-safe unpadded base64", urlRaw, "u1"},
		{"trailing comma", k1 + ",", "k1"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring("RIMFLOW_CODEC_KEYS", tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(k.IDs(), ","); got != tt.ids {
				t.Fatalf("ids = %s, want %s", got, tt.ids)
			}
			if k.Current() != strings.SplitN(tt.ids, ",", 2)[0] {
				t.Fatalf("current = %s", k.Current())
			}
		})
	}

	bad := []struct {
		name, spec, want string
	}{
		{"empty", " \n# only a comment\n", "RIMFLOW_CODEC_KEYS: no key"},
		{"bare key without ID", bare, "RIMFLOW_CODEC_KEYS: entry 1: expected <keyId>:<base64 key>"},
		{"short key", k1 + "," + short, `entry 2: key "s1": must be 32 bytes (AES-256), got 16`},
		{"duplicate ID", k1 + "," + "k1:" + base64.StdEncoding.EncodeToString(randomBytes(t, KeySize)), `entry 2: key "k1" appears twice`},
		{"same key under two IDs", "a:" + bare + ",b:" + bare, `entry 2: key "b" is the same key as "a"`},
		{"placeholder key", zeros, `key "z1": every byte is the same`},
		{"not base64", "k9:@@@@", `key "k9": not base64`},
		{"no material", "k9:", `key "k9": no key material`},
		{"bad ID", "k 1:" + bare, `entry 1: key ID "k 1"`},
		{"every problem at once", "k1:" + bare + ",k1:" + bare + "," + short, `entry 2: key "k1" appears twice; entry 3: key "s1"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyring("RIMFLOW_CODEC_KEYS", tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, material := range []string{bare, strings.SplitN(short, ":", 2)[1]} {
				if strings.Contains(err.Error(), material) {
					t.Fatal("error shows key material")
				}
			}
		})
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte(k2+"\n"+k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        map[string]string
		wantNil    bool
		encrypting bool
		current    string
		wantErr    string
	}{
		{name: "keys inline", env: map[string]string{EnvKeys: k2 + "," + k1}, encrypting: true, current: "k2"},
		{name: "keys from a file", env: map[string]string{EnvKeys + "_FILE": file}, encrypting: true, current: "k2"},
		{name: "off without keys: no codec", env: map[string]string{EnvEncryption: "off"}, wantNil: true},
		{name: "off with keys: decrypt only", env: map[string]string{EnvEncryption: "OFF", EnvKeys: k1}, current: "k1"},
		{name: "on by default needs keys", env: map[string]string{}, wantErr: "payload encryption is on (the default) but no key is configured"},
		{name: "bad switch", env: map[string]string{EnvEncryption: "maybe"}, wantErr: EnvEncryption + `: must be on or off, got "maybe"`},
		{name: "both inline and file", env: map[string]string{EnvKeys: k1, EnvKeys + "_FILE": file}, wantErr: EnvKeys + ": set either"},
		{name: "missing file", env: map[string]string{EnvKeys + "_FILE": filepath.Join(dir, "nope")}, wantErr: EnvKeys + "_FILE: cannot read key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNil {
				if c != nil {
					t.Fatalf("codec = %v, want none", c)
				}
				return
			}
			if c.Encrypting() != tt.encrypting || c.Keys().Current() != tt.current {
				t.Fatalf("codec = %v", c)
			}
		})
	}
	if !errors.Is(ErrNoKeys, ErrNoKeys) || !strings.Contains(ErrNoKeys.Error(), EnvEncryption+"=off") {
		t.Fatal("ErrNoKeys does not say how to switch encryption off")
	}
}

func TestEnsureKeyFileAndRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".rimflow", "codec.keys")
	env := func(string) string { return "" }

	c, created, err := LoadEnvOrKeyFile(env, path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", info.Mode(), err)
	}
	sealed, err := c.Encode([]*commonpb.Payload{{Data: []byte("bill under k1")}})
	if err != nil {
		t.Fatal(err)
	}

	// Second start: the same key, nothing written.
	again, created, err := LoadEnvOrKeyFile(env, path)
	if err != nil || created || again.Keys().Current() != "k1" {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	out, err := again.Decode(sealed)
	if err != nil || string(out[0].Data) != "bill under k1" {
		t.Fatalf("restart cannot read its own bill: %v", err)
	}

	if err := RotateKeyFile(path, "k2"); err != nil {
		t.Fatal(err)
	}
	rotated, err := ReadKeyFile(path)
	if err != nil || strings.Join(rotated.IDs(), ",") != "k2,k1" {
		t.Fatalf("after rotation: %v, %v", rotated, err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("rotated file mode = %v", info.Mode())
	}
	out, err = New(rotated).Decode(sealed)
	if err != nil || string(out[0].Data) != "bill under k1" {
		t.Fatalf("rotation lost the old key: %v", err)
	}
	if err := RotateKeyFile(path, "k1"); err == nil || !strings.Contains(err.Error(), `key "k1" is already there`) {
		t.Fatalf("rotating to an existing ID: %v", err)
	}
	if err := RotateKeyFile(filepath.Join(dir, "none"), "k3"); err == nil {
		t.Fatal("rotating a missing file succeeded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("rotation left files behind: %v", entries)
	}

	// Configured keys win over the default file; explicit off never creates one.
	other := filepath.Join(dir, "other.keys")
	k9 := testKey(t, "k9")
	c, created, err = LoadEnvOrKeyFile(func(k string) string { return map[string]string{EnvKeys: k9}[k] }, other)
	if err != nil || created || c.Keys().Current() != "k9" {
		t.Fatalf("configured keys: %v %v %v", c, created, err)
	}
	c, created, err = LoadEnvOrKeyFile(func(k string) string { return map[string]string{EnvEncryption: "off"}[k] }, other)
	if err != nil || created || c != nil {
		t.Fatalf("encryption off: %v %v %v", c, created, err)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a key file was written although keys were configured or encryption was off")
	}

	// A damaged existing file is reported, never replaced.
	broken := filepath.Join(dir, "broken.keys")
	if err := os.WriteFile(broken, []byte("k1:short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKeyFile(broken, "k1"); err == nil || !strings.Contains(err.Error(), `key "k1"`) {
		t.Fatalf("broken file: %v", err)
	}
	if b, _ := os.ReadFile(broken); string(b) != "k1:short\n" {
		t.Fatal("a broken key file was overwritten")
	}
	if _, err := GenerateKey("bad id"); err == nil {
		t.Fatal("GenerateKey accepted a bad ID")
	}
}
