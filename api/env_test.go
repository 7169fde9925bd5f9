package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadEnv(t *testing.T) {
	env, err := LoadEnv(envOf(nil))
	if err != nil || env.Addr != "127.0.0.1:8080" || env.Token != "" || env.RequestTimeout != DefaultRequestTimeout {
		t.Errorf("defaults: %+v %v", env, err)
	}

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err = LoadEnv(envOf(map[string]string{EnvAPIToken + "_FILE": file, EnvAPIRequestTimeout: "5s", EnvAPIAddr: ":9000"}))
	if err != nil || env.Token != "from-file-token" || env.RequestTimeout != 5*time.Second || env.Addr != ":9000" {
		t.Errorf("from file: %+v %v", env, err)
	}
	if strings.Contains(env.String(), "from-file-token") {
		t.Errorf("String shows the token: %s", env)
	}

	for name, vars := range map[string]map[string]string{
		EnvAPIToken:           {EnvAPIToken: "direct-secret", EnvAPIToken + "_FILE": file},
		EnvAPIToken + "_FILE": {EnvAPIToken + "_FILE": filepath.Join(t.TempDir(), "missing")},
		EnvAPIRequestTimeout:  {EnvAPIRequestTimeout: "soon"},
	} {
		_, err := LoadEnv(envOf(vars))
		if err == nil || !strings.HasPrefix(err.Error(), name) {
			t.Errorf("%s: error %v does not name the variable", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "direct-secret") || strings.Contains(err.Error(), "from-file-token")) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	if len(Vars()) != 3 {
		t.Errorf("Vars() = %v", Vars())
	}
}
