package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"rimflow/cloudsim/simulator"
)

// standardFlag collects -standard TAXNO=NAME: a standard tenant whose credentials are derived
// from the seed and the tax number (printed at startup).
type standardFlag []string

func (f *standardFlag) String() string { return strings.Join(*f, ",") }

func (f *standardFlag) Set(v string) error {
	taxNo, name, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(taxNo) == "" || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want TAXNO=NAME, got %q", v)
	}
	*f = append(*f, v)
	return nil
}

// derivedTenant makes a standard tenant for -standard: client id STD+the tax number's last six
// characters, secret and encrypt_key from a hash of the seed and the tax number (stable across
// runs with the same seed, different for every enterprise).
func derivedTenant(seed int64, spec string) simulator.Tenant {
	taxNo, name, _ := strings.Cut(spec, "=")
	taxNo, name = strings.TrimSpace(taxNo), strings.TrimSpace(name)
	derive := func(what string) string {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d|%s|%s", seed, taxNo, what)))
		return hex.EncodeToString(sum[:])[:16]
	}
	return simulator.Tenant{Edition: simulator.EditionStandard, Name: name, TaxNo: taxNo,
		ClientID: "STD" + taxNo[max(0, len(taxNo)-6):], ClientSecret: derive("secret"), EncryptKey: derive("encrypt_key")}
}

// tenantsFile is -tenants FILE: {"standard":[{…}]}.
type tenantsFile struct {
	Standard []struct {
		Name                 string                 `json:"name"`
		TaxNo                string                 `json:"taxNo"`
		ClientID             string                 `json:"clientId"`
		ClientSecret         string                 `json:"clientSecret"`
		EncryptKey           string                 `json:"encryptKey"`
		PlaintextCalls       []string               `json:"plaintextCalls"`
		UserKeyTTL           string                 `json:"userKeyTTL"`
		RequireIssuedLinkKey bool                   `json:"requireIssuedLinkKey"`
		Push                 []simulator.PushTarget `json:"push"`
		ScanPoints           []simulator.ScanPoint  `json:"scanPoints"`
	} `json:"standard"`
}

// readTenants reads a tenants file; unknown fields and bad durations are errors naming the field.
func readTenants(path string) ([]simulator.Tenant, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f tenantsFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]simulator.Tenant, 0, len(f.Standard))
	for i, st := range f.Standard {
		t := simulator.Tenant{Edition: simulator.EditionStandard, Name: st.Name, TaxNo: st.TaxNo, ClientID: st.ClientID,
			ClientSecret: st.ClientSecret, EncryptKey: st.EncryptKey, PlaintextCalls: st.PlaintextCalls,
			RequireIssuedLinkKey: st.RequireIssuedLinkKey, Push: st.Push, ScanPoints: st.ScanPoints}
		if st.UserKeyTTL != "" {
			d, err := time.ParseDuration(st.UserKeyTTL)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: standard[%d].userKeyTTL: want a positive duration such as 2h", path, i)
			}
			t.UserKeyTTL = d
		}
		out = append(out, t)
	}
	return out, nil
}
