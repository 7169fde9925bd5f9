// Package secretref resolves a secret given by reference in a configuration file: env:NAME (an
// environment variable) or file:PATH (a mounted secret). A secret is never written inline, so a
// configuration file can be committed, shown and logged.
package secretref

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Resolve returns the secret ref points to. Errors name the variable or file, never the value.
func Resolve(ref string, getenv func(string) string, readFile func(string) ([]byte, error)) ([]byte, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		if name == "" {
			return nil, errors.New("env: needs a variable name (env:NAME)")
		}
		v := getenv(name)
		if v == "" {
			return nil, fmt.Errorf("%s is empty or unset", name)
		}
		return []byte(v), nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		if path == "" {
			return nil, errors.New("file: needs a path (file:PATH)")
		}
		if readFile == nil {
			return nil, fmt.Errorf("cannot read %s", path)
		}
		b, err := readFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s", path)
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("%s is empty", path)
		}
		return b, nil
	case ref == "":
		return nil, errors.New("required (env:NAME or file:PATH)")
	}
	return nil, errors.New("a secret is given by reference only: env:NAME or file:PATH, never inline")
}
