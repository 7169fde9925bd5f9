package secretref

import (
	"errors"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	env := map[string]string{"CLOUD_SECRET": "s3cret-env"}
	files := map[string]string{"/run/secrets/cloud": "s3cret-file\n", "/run/secrets/blank": " \n"}
	getenv := func(k string) string { return env[k] }
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, errors.New("open " + p + ": no such file")
	}
	for _, tc := range []struct {
		ref, want, wantErr string
	}{
		{ref: "env:CLOUD_SECRET", want: "s3cret-env"},
		{ref: "file:/run/secrets/cloud", want: "s3cret-file"}, // the trailing newline of a mounted secret goes
		{ref: "env:MISSING", wantErr: "MISSING is empty or unset"},
		{ref: "env:", wantErr: "env: needs a variable name"},
		{ref: "file:/run/secrets/none", wantErr: "cannot read /run/secrets/none"},
		{ref: "file:/run/secrets/blank", wantErr: "/run/secrets/blank is empty"},
		{ref: "file:", wantErr: "file: needs a path"},
		{ref: "", wantErr: "required"},
		{ref: "hunter2-inline", wantErr: "by reference only"},
	} {
		got, err := Resolve(tc.ref, getenv, readFile)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Resolve(%q) error = %v, want it to contain %q", tc.ref, err, tc.wantErr)
			}
			if err != nil && tc.ref == "hunter2-inline" && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("an inline secret is echoed in the error: %v", err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
	if _, err := Resolve("file:/x", getenv, nil); err == nil {
		t.Error("a file reference without a reader resolved")
	}
}
