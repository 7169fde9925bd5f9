package deploy

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// TemporalDynamicConfig is deploy/temporal/dynamicconfig.yaml, the dynamic config the compose
// file gives the Temporal server. The embedded server (devstack/devserver) loads the same bytes,
// so the laptop and the cluster run one set of settings.
//
//go:embed temporal/dynamicconfig.yaml
var TemporalDynamicConfig []byte

// Compose is the part of docker-compose.yml that rimflow's tests read: the compose-consistency
// test (deploy) and the production system test (systest/production), which runs the services
// natively.
type Compose struct {
	Services map[string]Service `yaml:"services"`
	Secrets  map[string]Secret  `yaml:"secrets"`
}

// Service is one compose service.
type Service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     any               `yaml:"command"`
	Entrypoint  any               `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	Profiles    []string          `yaml:"profiles"`
	Secrets     []string          `yaml:"secrets"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// Secret is a top-level compose secret: fed from an environment variable or a file.
type Secret struct {
	Environment string `yaml:"environment"`
	File        string `yaml:"file"`
}

// LoadCompose reads a compose file.
func LoadCompose(path string) (Compose, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Compose{}, err
	}
	var c Compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return Compose{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Services) == 0 {
		return Compose{}, fmt.Errorf("%s has no services", path)
	}
	return c, nil
}

// ReadDotenv reads a .env file (NAME=value lines, # comments), as compose does for interpolation.
func ReadDotenv(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: line %q is not NAME=value", path, line)
		}
		env[k] = v
	}
	return env, nil
}

// GeneratedSecrets are the variables deploy/env.example leaves empty for the user to generate
// (`openssl rand -hex 32`): an example value would be a known credential, and the programs refuse
// the usual placeholders anyway.
var GeneratedSecrets = []string{"POSTGRES_PASSWORD", "RIMFLOW_API_TOKEN", "GRAFANA_ADMIN_PASSWORD"}

// WithGeneratedSecrets is dotenv as a user fills it in from env.example: every GeneratedSecrets
// variable left empty gets a fresh random value (32 random bytes in hex), as the example asks.
func WithGeneratedSecrets(dotenv map[string]string) map[string]string {
	out := make(map[string]string, len(dotenv))
	for k, v := range dotenv {
		out[k] = v
	}
	for _, k := range GeneratedSecrets {
		if strings.TrimSpace(out[k]) == "" {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			out[k] = hex.EncodeToString(b)
		}
	}
	return out
}

// interpolation is what compose substitutes in a value: $$ (a literal $), ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR, and a lone $ (compose refuses it).
var interpolation = regexp.MustCompile(`\$(?:(\$)|\{([A-Za-z0-9_]+)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|)`)

// Interpolate does what compose does with a value given dotenv: $$ becomes $, and ${VAR},
// ${VAR:-default}, ${VAR:?error} and $VAR are substituted. A required variable left empty, a $VAR
// that is not set (compose would put an empty string where a shell script meant its own
// variable: write $$VAR) and a lone $ are errors naming what to fix.
func Interpolate(s string, dotenv map[string]string) (string, error) {
	var errs []error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		p := interpolation.FindStringSubmatch(m)
		escaped, braced, op, arg, bare := p[1], p[2], p[3], p[4], p[5]
		switch {
		case escaped != "":
			return "$"
		case bare != "":
			v, set := dotenv[bare]
			if !set {
				errs = append(errs, fmt.Errorf("$%s is not set, so compose substitutes an empty string; a shell variable is written $$%s", bare, bare))
			}
			return v
		case braced == "":
			errs = append(errs, fmt.Errorf("a lone $ in %q: compose refuses it; write $$ for a literal $", s))
			return m
		}
		v, set := dotenv[braced]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if v == "" {
				errs = append(errs, fmt.Errorf("%s is required (%s) but is empty", braced, arg))
			}
		}
		return v
	})
	return out, errors.Join(errs...)
}

// Words is a compose command or entrypoint as words (a string is split on spaces, a list kept).
func Words(cmd any) ([]string, error) {
	switch c := cmd.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(c), nil
	case []any:
		words := make([]string, 0, len(c))
		for _, w := range c {
			words = append(words, fmt.Sprint(w))
		}
		return words, nil
	default:
		return nil, fmt.Errorf("command of unexpected shape %T", cmd)
	}
}
