package access

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Environment variables. The clients file is the normal way; the single token is the fallback
// that keeps a one-client setup (and today's RIMFLOW_API_TOKEN) working.
const (
	EnvClientsFile      = "RIMFLOW_API_CLIENTS_FILE"      // path of the clients file (YAML or JSON)
	EnvToken            = "RIMFLOW_API_TOKEN"             // single-client fallback: its token (secret; also _FILE)
	EnvClientName       = "RIMFLOW_API_CLIENT_NAME"       // single-client fallback: its name (default "default")
	EnvClientOperations = "RIMFLOW_API_CLIENT_OPERATIONS" // single-client fallback: comma list (default "admin")
	EnvClientResources  = "RIMFLOW_API_CLIENT_RESOURCES"  // single-client fallback: comma list (default "*")
)

// MinTokenLen is the shortest token accepted; generate real ones with `openssl rand -hex 32`.
const MinTokenLen = 8

const (
	hashPrefix = "sha256:"
	envPrefix  = "env:"
	filePrefix = "file:"
)

var (
	namePattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	roleNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// Spec is one client before validation: what a clients file entry holds, or what a program (the
// devstack, a test) builds. Exactly one of Token (plain, only from memory, never from a file) and
// TokenRef ("sha256:<hex>", "env:VAR", "file:PATH") is set.
type Spec struct {
	Name       string   `yaml:"name" json:"name"`
	TokenRef   string   `yaml:"token" json:"token"`
	Token      string   `yaml:"-" json:"-"`
	Operations []string `yaml:"operations" json:"operations"`
	Roles      []string `yaml:"roles" json:"roles"`
	Resources  []string `yaml:"resources" json:"resources"`
}

// File is the clients file: named bundles of operations (roles) and the clients.
type File struct {
	Roles   map[string][]string `yaml:"roles" json:"roles"`
	Clients []Spec              `yaml:"clients" json:"clients"`
}

// ConfigError names every bad field of a clients configuration (never a token).
type ConfigError struct {
	Source   string   // the file or the variables
	Problems []string // "clients[2].token: …", in order
}

func (e *ConfigError) Error() string {
	return e.Source + ": " + strings.Join(e.Problems, "; ")
}

// Resolver reads what token references point at; Dir is where relative file: paths start.
// MinTokenLen is the shortest token accepted (0: MinTokenLen; the programs' loaders,
// LoadEnv and LoadFile, ask ProgramMinTokenLen).
type Resolver struct {
	Getenv      func(string) string
	ReadFile    func(string) ([]byte, error)
	Dir         string
	MinTokenLen int
}

func (r Resolver) withDefaults() Resolver {
	if r.Getenv == nil {
		r.Getenv = os.Getenv
	}
	if r.ReadFile == nil {
		r.ReadFile = os.ReadFile
	}
	if r.MinTokenLen <= 0 {
		r.MinTokenLen = MinTokenLen
	}
	return r
}

// LoadEnv reads the clients the way the API and the codec server start: the file named by
// RIMFLOW_API_CLIENTS_FILE, else the single client of RIMFLOW_API_TOKEN (or its _FILE), else none
// (open; see CheckListen). Setting both the file and the token is refused as ambiguous.
func LoadEnv(getenv func(string) string) (*Clients, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	file := strings.TrimSpace(getenv(EnvClientsFile))
	token := strings.TrimSpace(getenv(EnvToken))
	tokenFile := strings.TrimSpace(getenv(EnvToken + "_FILE"))
	hasToken := token != "" || tokenFile != ""
	if !hasToken {
		for _, v := range []string{EnvClientName, EnvClientOperations, EnvClientResources} {
			if strings.TrimSpace(getenv(v)) != "" {
				return nil, fmt.Errorf("%s: set only with %s (or %s_FILE); a clients file names its clients itself", v, EnvToken, EnvToken)
			}
		}
	}
	if file != "" {
		if hasToken {
			return nil, fmt.Errorf("%s: set either %s or %s/%s_FILE, not both", EnvClientsFile, EnvClientsFile, EnvToken, EnvToken)
		}
		return LoadFile(file, Resolver{Getenv: getenv, MinTokenLen: ProgramMinTokenLen})
	}
	if !hasToken {
		return &Clients{}, nil
	}
	if token != "" && tokenFile != "" {
		return nil, fmt.Errorf("%s: set either %s or %s_FILE, not both", EnvToken, EnvToken, EnvToken)
	}
	spec := Spec{
		Name:       cmp.Or(strings.TrimSpace(getenv(EnvClientName)), "default"),
		Operations: SplitList(cmp.Or(strings.TrimSpace(getenv(EnvClientOperations)), OpAdmin)),
		Resources:  SplitList(cmp.Or(strings.TrimSpace(getenv(EnvClientResources)), AllResources)),
		TokenRef:   envPrefix + EnvToken,
	}
	if tokenFile != "" {
		spec.TokenRef = filePrefix + tokenFile
	}
	cs, problems := build(nil, []Spec{spec}, Resolver{Getenv: getenv, MinTokenLen: ProgramMinTokenLen}.withDefaults(), envFieldNames)
	if len(problems) > 0 {
		return nil, &ConfigError{Source: "environment", Problems: problems}
	}
	return cs, nil
}

// envFieldNames names the single-client variables in errors instead of clients[0].<field>.
func envFieldNames(_ int, field string) string {
	switch field {
	case "name":
		return EnvClientName
	case "token":
		return EnvToken
	case "operations":
		return EnvClientOperations
	case "resources":
		return EnvClientResources
	}
	return field
}

// LoadFile reads a clients file (YAML, or JSON, which YAML reads too). Relative file: references
// start at the file's directory.
func LoadFile(path string, r Resolver) (*Clients, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read clients file %q: %w", EnvClientsFile, path, errors.Unwrap(err))
	}
	if r.Dir == "" {
		r.Dir = filepath.Dir(path)
	}
	cs, err := Parse(data, r)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Source = "clients file " + path
		}
		return nil, err
	}
	return cs, nil
}

// Parse reads a clients file's content. Unknown fields are refused (a typo must not grant or drop rights).
func Parse(data []byte, r Resolver) (*Clients, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{Source: "clients file", Problems: []string{"clients: the file is empty"}}
		}
		return nil, &ConfigError{Source: "clients file", Problems: []string{err.Error()}}
	}
	var problems []string
	if len(f.Clients) == 0 {
		problems = append(problems, "clients: at least one client is required (remove the file to run open on loopback)")
	}
	cs, more := build(f.Roles, f.Clients, r.withDefaults(), func(i int, field string) string {
		return fmt.Sprintf("clients[%d].%s", i, field)
	})
	problems = append(problems, more...)
	if len(problems) > 0 {
		return nil, &ConfigError{Source: "clients file", Problems: problems}
	}
	return cs, nil
}

// New builds clients from specs in memory (a devstack-generated token, a test).
func New(specs ...Spec) (*Clients, error) {
	cs, problems := build(nil, specs, Resolver{}.withDefaults(), func(i int, field string) string {
		return fmt.Sprintf("clients[%d].%s", i, field)
	})
	if len(problems) > 0 {
		return nil, &ConfigError{Source: "clients", Problems: problems}
	}
	return cs, nil
}

// build validates every spec; field names where a problem lies come from name(i, field).
func build(roles map[string][]string, specs []Spec, r Resolver, name func(int, string) string) (*Clients, []string) {
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	entry := func(i int) string { return strings.TrimSuffix(name(i, ""), ".") }

	for _, role := range sortedKeys(roles) {
		if !roleNamePattern.MatchString(role) {
			bad("roles."+role, "a role name is lower-case letters, digits, '_' or '-'")
		}
		if len(roles[role]) == 0 {
			bad("roles."+role, "lists no operation")
		}
		for j, op := range roles[role] {
			if why := validOperation(normalizeOp(op)); why != "" {
				bad(fmt.Sprintf("roles.%s[%d]", role, j), "%s", why)
			}
		}
	}

	cs := &Clients{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	for i, s := range specs {
		c := &Client{Name: strings.TrimSpace(s.Name)}
		switch prev, dup := names[strings.ToLower(c.Name)]; {
		case c.Name == "":
			bad(name(i, "name"), "required")
		case !namePattern.MatchString(c.Name):
			bad(name(i, "name"), "%q: letters, digits, '.', '_' or '-', at most 64", c.Name)
		case dup:
			bad(name(i, "name"), "%q is also the name of %s", c.Name, entry(prev))
		default:
			names[strings.ToLower(c.Name)] = i
		}

		hash, why := resolveToken(s, r)
		if why != "" {
			bad(name(i, "token"), "%s", why)
		} else if prev, dup := hashes[hash]; dup {
			bad(name(i, "token"), "same token as %s (each client needs its own)", entry(prev))
		} else {
			hashes[hash] = i
			c.tokenHash = hash
		}

		ops := map[string]bool{}
		for j, op := range s.Operations {
			op = normalizeOp(op)
			if why := validOperation(op); why != "" {
				bad(fmt.Sprintf("%s[%d]", name(i, "operations"), j), "%s", why)
				continue
			}
			ops[op] = true
		}
		for j, role := range s.Roles {
			role = strings.TrimSpace(role)
			bundle, ok := roles[role]
			if !ok {
				bad(fmt.Sprintf("%s[%d]", name(i, "roles"), j), "unknown role %q (define it under roles:)", role)
				continue
			}
			for _, op := range bundle {
				if op = normalizeOp(op); validOperation(op) == "" {
					ops[op] = true
				}
			}
		}
		if len(s.Operations) == 0 && len(s.Roles) == 0 {
			bad(name(i, "operations"), "required: the operations (or roles) this client may use")
		}
		c.Operations = sortedKeys(ops)

		c.Resources, problems = resources(s.Resources, name(i, "resources"), problems)
		if (ops[OpCodecDecode] || ops[OpCodecEncode]) && len(c.Resources) > 0 && !slices.Contains(c.Resources, AllResources) {
			bad(name(i, "resources"), "must be [\"*\"] for a client that may use the codec server (%s)", codecReason)
		}
		if ops[OpMetrics] && len(c.Resources) > 0 && !slices.Contains(c.Resources, AllResources) {
			bad(name(i, "resources"), "must be [\"*\"] for a client that may read the metrics (%s)", metricsReason)
		}
		cs.list = append(cs.list, c)
	}
	return cs, problems
}

func resources(list []string, field string, problems []string) ([]string, []string) {
	if len(list) == 0 {
		return nil, append(problems, field+": required: [\"*\"] or the resources this client may act on")
	}
	seen := map[string]bool{}
	for j, res := range list {
		res = strings.TrimSpace(res)
		switch {
		case res == "":
			problems = append(problems, fmt.Sprintf("%s[%d]: empty", field, j))
		case res == AllResources && len(list) > 1:
			problems = append(problems, fmt.Sprintf("%s[%d]: \"*\" stands alone (it already means every resource)", field, j))
		case strings.ContainsAny(res, ": \t/"):
			problems = append(problems, fmt.Sprintf("%s[%d]: %q must not contain ':', '/' or spaces", field, j, res))
		case seen[res]:
			problems = append(problems, fmt.Sprintf("%s[%d]: %q appears twice", field, j, res))
		}
		seen[res] = true
	}
	return sortedKeys(seen), problems
}

// resolveToken returns the hash of the client's token, or why there is none. The reason may name
// a variable or a path, never the token.
func resolveToken(s Spec, r Resolver) ([sha256.Size]byte, string) {
	var zero [sha256.Size]byte
	ref := strings.TrimSpace(s.TokenRef)
	plain := strings.TrimSpace(s.Token)
	switch {
	case plain != "" && ref != "":
		return zero, "set either a token or a token reference, not both"
	case plain != "":
		return hashChecked(plain, "the token", r.MinTokenLen)
	case ref == "":
		return zero, "required: sha256:<hex>, env:VAR or file:PATH"
	}
	switch {
	case strings.HasPrefix(ref, hashPrefix):
		b, err := hex.DecodeString(strings.TrimPrefix(ref, hashPrefix))
		if err != nil || len(b) != sha256.Size {
			return zero, "sha256: must be followed by 64 hex digits (the SHA-256 of the token)"
		}
		var h [sha256.Size]byte
		copy(h[:], b)
		return h, ""
	case strings.HasPrefix(ref, envPrefix):
		v := strings.TrimPrefix(ref, envPrefix)
		if v == "" {
			return zero, "env: must name a variable"
		}
		token := strings.TrimSpace(r.Getenv(v))
		if token == "" {
			return zero, fmt.Sprintf("variable %s (named by env:%s) is empty or unset", v, v)
		}
		return hashChecked(token, "variable "+v, r.MinTokenLen)
	case strings.HasPrefix(ref, filePrefix):
		p := strings.TrimPrefix(ref, filePrefix)
		if p == "" {
			return zero, "file: must name a file"
		}
		if !filepath.IsAbs(p) && r.Dir != "" {
			p = filepath.Join(r.Dir, p)
		}
		b, err := r.ReadFile(p)
		if err != nil {
			return zero, fmt.Sprintf("cannot read %q", p)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return zero, fmt.Sprintf("file %q is empty", p)
		}
		return hashChecked(token, fmt.Sprintf("file %q", p), r.MinTokenLen)
	}
	return zero, "must be sha256:<hex>, env:VAR or file:PATH; a token written in the file is refused"
}

func hashChecked(token, where string, minLen int) ([sha256.Size]byte, string) {
	if Placeholder(token) {
		return [sha256.Size]byte{}, fmt.Sprintf("%s holds a placeholder, not a token: generate one with `openssl rand -hex 32`", where)
	}
	if len(token) < minLen {
		return [sha256.Size]byte{}, fmt.Sprintf("%s holds a token shorter than %d characters: generate one with `openssl rand -hex 32`", where, minLen)
	}
	return sha256.Sum256([]byte(token)), ""
}

// normalizeOp lower-cases an operation as configured: approval roles are lower-case in the workflow
// ("approve:Finance" must grant the role "finance").
func normalizeOp(op string) string { return strings.ToLower(strings.TrimSpace(op)) }

// SplitList reads a comma-separated variable (operations, resources, origins): the entries
// trimmed, empty ones dropped. The one reader of rimflow's list variables; internal/config uses it too.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
