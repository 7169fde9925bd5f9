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
	tmp, err := writeTempKeyFile(path, keyFileHeader+entry+"\n")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	// A hard link, not a rename: it fails when the file exists, so two processes starting at
	// once never both write (one overwriting the other's key); and the name only ever points at a
	// complete, synced file, so a crash leaves no key or the whole key, never a truncated one.
	keyFileHook("create:before-link")
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		_, err := ReadKeyFile(path)
		return false, err
	} else if err != nil {
		return false, fmt.Errorf("key file %q: %w", path, err)
	}
	keyFileHook("create:before-dir-sync")
	if err := syncDir(filepath.Dir(path)); err != nil {
		return true, fmt.Errorf("key file %q: %w", path, err)
	}
	return true, nil
}

// keyFileHook is called at each point where a crash must leave the key file whole; the kill test
// (TestKeyFileSurvivesAKillAtEveryStep) stops a helper process there.
var keyFileHook = func(string) {}

// writeTempKeyFile writes content to a fresh file (mode 0600) beside path and syncs it, so that
// once it is linked or renamed into place it is on disk whatever happens next.
func writeTempKeyFile(path, content string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".codec-keys-*")
	if err != nil {
		return "", fmt.Errorf("key file %q: %w", path, err)
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("key file %q: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(content); err != nil {
		return fail(fmt.Errorf("write: %w", err))
	}
	keyFileHook("write:before-sync")
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("sync: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("key file %q: %w", path, err)
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable: without it a power cut may lose the new name
// while the old file's blocks are already reused.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
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
	tmp, err := writeTempKeyFile(path, keyFileHeader+entry+"\n"+rest)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after the rename
	if _, err := ReadKeyFile(tmp); err != nil {
		return err
	}
	// The old file stays in place until the new one, whole and synced, replaces it in one step.
	keyFileHook("rotate:before-rename")
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("key file %q: %w", path, err)
	}
	keyFileHook("rotate:before-dir-sync")
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("key file %q: %w", path, err)
	}
	return nil
}
