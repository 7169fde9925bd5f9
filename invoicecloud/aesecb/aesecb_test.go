package aesecb

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

// NIST SP 800-38A, F.1.1 ECB-AES128.Encrypt, first block: the cipher itself.
func TestNISTVector(t *testing.T) {
	key, _ := hex.DecodeString("2b7e151628aed2a6abf7158809cf4f3c")
	plain, _ := hex.DecodeString("6bc1bee22e409f96e93d7e117393172a")
	out, err := Encrypt(string(key), plain)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(out)
	if got := hex.EncodeToString(raw[:16]); got != "3ad77bb40d7a3660a89ecaf32466ef97" {
		t.Fatalf("first block %s", got)
	}
	if len(raw) != 32 {
		t.Fatalf("a whole block of plaintext gets a whole block of padding: %d bytes", len(raw))
	}
}

// Vectors produced by OpenSSL (`openssl enc -aes-128-ecb -K <hex key> -base64`), which pads with
// PKCS#7 like Java's AES/ECB/PKCS5Padding: the padding and the Base64 agree with other stacks.
func TestOpenSSLVectors(t *testing.T) {
	const key = "k9Vq2mX7pL4sR8tB"
	for plain, want := range map[string]string{
		`{"tin":"91440300MA5G9GK78Y"}`: "hrrO9vnboqwxRQZnS84YIKTyaouR0E31Bb3Y7Brs10c=",
		"":                             "1rxgBuKGXYpYIX7Stci9TA==",
	} {
		got, err := Encrypt(key, []byte(plain))
		if err != nil || got != want {
			t.Fatalf("Encrypt(%q) = %q, %v; want %q", plain, got, err, want)
		}
		back, err := Decrypt(key, want)
		if err != nil || string(back) != plain {
			t.Fatalf("Decrypt(%q) = %q, %v", want, back, err)
		}
	}
}

func TestWrongKeyAndBadInput(t *testing.T) {
	ct, _ := Encrypt("k9Vq2mX7pL4sR8tB", []byte(`{"a":1}`))
	if _, err := Decrypt("0000000000000000", ct); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, bad := range []string{"", "not base64!", "AAAA", base64.StdEncoding.EncodeToString(make([]byte, 17))} {
		if _, err := Decrypt("k9Vq2mX7pL4sR8tB", bad); !errors.Is(err, ErrCiphertext) {
			t.Fatalf("Decrypt(%q): %v", bad, err)
		}
	}
	if _, err := Encrypt("short", nil); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := Decrypt("short", ct); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
}
