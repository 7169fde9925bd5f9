// Package aesecb is the cipher of the standard edition's encrypt_key: AES-128 in ECB mode with
// PKCS#7 padding, the ciphertext in standard Base64. It is a primitive, not a reading of the
// vendor's wire format, so both the client (invoicecloud) and the simulator use it; a test pins
// it to a published AES-128 vector so a shared mistake cannot hide.
package aesecb

import (
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"errors"
	"strings"
)

// KeyLen is the length of an encrypt_key: 16 characters, used as the AES-128 key bytes.
const KeyLen = 16

var (
	// ErrKey: the key is not 16 bytes.
	ErrKey = errors.New("aesecb: the key must be 16 bytes (AES-128)")
	// ErrCiphertext: the text is not Base64 of whole blocks, or its padding is wrong — the usual
	// sign of a wrong key.
	ErrCiphertext = errors.New("aesecb: does not decrypt (wrong key, or not Base64 AES-128-ECB)")
)

// Encrypt pads plain with PKCS#7, encrypts each block with key and returns standard Base64.
func Encrypt(key string, plain []byte) (string, error) {
	if len(key) != KeyLen {
		return "", ErrKey
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return "", err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(append(make([]byte, 0, len(plain)+n), plain...), bytes.Repeat([]byte{byte(n)}, n)...)
	for i := 0; i < len(buf); i += aes.BlockSize {
		block.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt reverses Encrypt. A wrong key almost always fails the padding check (ErrCiphertext);
// callers that parse the result (JSON) catch the rare wrong key whose padding happens to fit.
func Decrypt(key, text string) ([]byte, error) {
	if len(key) != KeyLen {
		return nil, ErrKey
	}
	buf, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(text))))
	if err != nil || len(buf) == 0 || len(buf)%aes.BlockSize != 0 {
		return nil, ErrCiphertext
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(buf); i += aes.BlockSize {
		block.Decrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	n := int(buf[len(buf)-1])
	if n == 0 || n > aes.BlockSize || !bytes.Equal(buf[len(buf)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, ErrCiphertext
	}
	return buf[:len(buf)-n], nil
}

// DecryptPrefix decrypts the whole blocks at the start of a Base64 ciphertext that may be cut
// anywhere, without the padding check (the end is not there). ECB decrypts each block alone, so
// the result is the plaintext's start: enough to tell the right key from a wrong one before the
// rest is read. Fewer than 64 Base64 characters (three blocks) is ErrCiphertext.
func DecryptPrefix(key, text string) ([]byte, error) {
	if len(key) != KeyLen {
		return nil, ErrKey
	}
	text = strings.TrimLeft(text, " \t\r\n")
	n := len(text) / 64 * 64 // 64 Base64 characters are 48 bytes, three whole blocks
	if n == 0 {
		return nil, ErrCiphertext
	}
	buf, err := base64.StdEncoding.DecodeString(text[:n])
	if err != nil || len(buf)%aes.BlockSize != 0 {
		return nil, ErrCiphertext
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(buf); i += aes.BlockSize {
		block.Decrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return buf, nil
}
