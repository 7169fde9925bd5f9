package codec

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const keyFileHeader = "# rimflow payload keys, newest first: the first key encrypts, every key decrypts.\n" +
	"# Rotate by adding a new key on top; keep the old ones while any bill written under them may be read.\n"

// GenerateKey returns a keyring entry "<id>:<base64 of 32 random bytes>".
func GenerateKey(id string) (string, error) {
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("key ID %q: letters, digits, '.', '_' or '-', at most 64", id)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate key %q: %w", id, err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// EnsureKeyFile makes sure a key file exists at path: an existing file is checked (it must parse)
// and left alone; a missing one is created (mode 0600, its directory 0700) with one fresh key
// named id. created reports which. The devstack keeps it under its data directory (.rimflow/codec.keys),
// so bills survive restarts; deleting that file makes every stored bill unreadable.
func EnsureKeyFile(path, id string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		_, err := ReadKeyFile(path)
		return false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("key file %q: %w", path, errors.Unwrap(err))
	}
	entry, err := GenerateKey(id)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("key file %q: %w", path, errors.Unwrap(err))
	}
	// O_EXCL: two processes starting at once must not both write (and one overwrite the other's key).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		_, err := ReadKeyFile(path)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("key file %q: %w", path, errors.Unwrap(err))
	}
	if _, err := f.WriteString(keyFileHeader + entry + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return false, fmt.Errorf("key file %q: write: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("key file %q: %w", path, err)
	}
	return true, nil
}

// RotateKeyFile puts a fresh key named newID at the top of the key file, keeping every older key
// (they still decrypt). The file is replaced atomically; a reader sees the old or the new keyring.
// Running processes read keys at start: restart them (workers first) to encrypt with the new key.
func RotateKeyFile(path, newID string) error {
	old, err := ReadKeyFile(path)
	if err != nil {
		return err
	}
	if slices.Contains(old.ids, newID) {
		return fmt.Errorf("key file %q: key %q is already there; pick a new ID", path, newID)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("key file %q: %w", path, errors.Unwrap(err))
	}
	entry, err := GenerateKey(newID)
	if err != nil {
		return err
	}
	rest := strings.TrimPrefix(string(b), keyFileHeader)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".codec-keys-*")
	if err != nil {
		return fmt.Errorf("key file %q: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("key file %q: %w", path, err)
	}
	if _, err := tmp.WriteString(keyFileHeader + entry + "\n" + rest); err != nil {
		tmp.Close()
		return fmt.Errorf("key file %q: write: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key file %q: %w", path, err)
	}
	if _, err := ReadKeyFile(tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("key file %q: %w", path, err)
	}
	return nil
}
