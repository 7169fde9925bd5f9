package main

import (
	"fmt"
	"strings"

	"rimflow/internal/access"
)

// minDeploymentSecretLen is the shortest deployment password check-secrets accepts: what
// `openssl rand -hex 8` gives; env.example asks for `openssl rand -hex 32`.
const minDeploymentSecretLen = 16

// secretsOutput answers `starter check-secrets`: the variables checked (never a value).
type secretsOutput struct {
	Checked []string `json:"checked"`
}

// checkSecrets refuses, naming the variable and never its value, a deployment password that is
// unset, a known placeholder (access.Placeholder) or shorter than minDeploymentSecretLen. Compose runs it
// once before PostgreSQL and Grafana, which no rimflow program reads the passwords of, so a copied
// example never becomes the database's or the dashboard's password.
func (c *cli) checkSecrets(args []string) error {
	fs, _ := c.flags("check-secrets")
	names, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usageError("args", "name the variables to check, e.g. check-secrets POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD")
	}
	for _, name := range names {
		v := strings.TrimSpace(c.getenv(name))
		switch {
		case v == "":
			return usageError(name, name+": unset: generate one (openssl rand -hex 32)")
		case access.Placeholder(v):
			return usageError(name, name+": a placeholder from an example: generate one (openssl rand -hex 32)")
		case len(v) < minDeploymentSecretLen:
			return usageError(name, fmt.Sprintf("%s: %d characters, want at least %d: generate one (openssl rand -hex 32)", name, len(v), minDeploymentSecretLen))
		}
	}
	printJSON(c.stdout, secretsOutput{Checked: names})
	return nil
}
