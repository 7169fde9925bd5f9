package access

import "strings"

// ProgramMinTokenLen is the shortest API token a program accepts from its configuration (a clients
// file's env:/file: references, RIMFLOW_API_TOKEN, the devstack's --api-token): 32 characters, what
// `openssl rand -hex 16` gives at least. A token is an admin credential in the one-client setup.
const ProgramMinTokenLen = 32

// placeholders are values examples and tutorials put where a secret goes. A program refuses them
// in any secret, whatever their length: a copied example must not become a credential.
var placeholders = []string{
	"change-me", "change-me-too", "changeme", "change_me", "change-me-please", "replace-me", "replaceme",
	"secret", "password", "passw0rd", "token", "your-token", "your-token-here", "your-secret", "example",
	"todo", "xxx", "xxxx", "admin", "test", "default", "<generated>",
}

// Placeholder reports whether a secret's value is a known placeholder (case and surrounding
// space ignored), such as deploy/env.example's former `change-me`.
func Placeholder(value string) bool {
	v := strings.ToLower(strings.TrimSpace(value))
	for _, p := range placeholders {
		if v == p {
			return true
		}
	}
	return strings.HasPrefix(v, "change-me") || strings.HasPrefix(v, "changeme")
}

// CheckProgramToken says what is wrong with a token a program was given on its command line
// (the devstack's --api-token), by the rules its configuration follows: "" when it is usable.
// The reason never contains the token.
func CheckProgramToken(token string) string {
	_, why := hashChecked(strings.TrimSpace(token), "the token", ProgramMinTokenLen)
	return why
}
