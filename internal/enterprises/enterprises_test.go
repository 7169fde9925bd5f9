package enterprises

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

const (
	taxSH = "91310000MA1FL0001R"
	taxSZ = "91440300MA5G9GK78Y"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func noFiles(string) ([]byte, error) { return nil, errors.New("no files here") }

const good = `
enterprises:
  - taxNo: 91310000ma1fl0001r
    name: 上海示例有限公司
    edition: ultimate
    baseURL: https://api.example.com/
    authMode: oauth2
    clientId: cid
    clientSecret: env:SH_SECRET
    username: u
    accountId: acct
    orgNumber: "1001"
    scanPoint: SP01
  - taxNo: 91440300MA5G9GK78Y
    name: 深圳示例有限公司
    edition: standard
    baseURL: https://std.example.com
    clientId: SZ
    clientSecret: file:/run/secrets/sz
    encryptKey: env:SZ_KEY
    encType: 2
    push: true
`

var goodEnv = map[string]string{"SH_SECRET": "sh-secret", "SZ_KEY": "0123456789abcdef"}

func goodFiles(p string) ([]byte, error) {
	if p == "/run/secrets/sz" {
		return []byte("sz-secret\n"), nil
	}
	return nil, errors.New("missing")
}

func TestParseBothEditions(t *testing.T) {
	specs, err := Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 {
		t.Fatalf("%d specs", len(specs))
	}
	sh, sz := specs[0], specs[1]
	u, _ := sh.Settings.(ultimate.Enterprise)
	if sh.TaxNo != taxSH || sh.Edition() != ultimate.Name || u.ClientSecret != "sh-secret" ||
		u.BaseURL != "https://api.example.com" || sh.OrgNumber != "1001" || sh.ScanPoint != "SP01" || sh.Push != nil {
		t.Errorf("ultimate spec %+v", sh)
	}
	st, _ := sz.Settings.(standard.Config)
	if sz.Edition() != standard.Name || st.ClientSecret != "sz-secret" || st.EncryptKey != "0123456789abcdef" ||
		st.EncType != standard.EncHMACSHA256 || sz.Push == nil || sz.Push.ClientID != "SZ" {
		t.Errorf("standard spec %+v", sz)
	}
	info := sz.Info()
	if info.AuthMode != "signed" || !info.Push || info.BaseURL != "https://std.example.com" {
		t.Errorf("info %+v", info)
	}
}

func TestParseNamesEveryProblem(t *testing.T) {
	bad := `
enterprises:
  - taxNo: bad-tax
    name: ""
    edition: ultimate
    baseURL: https://api.example.com
    authMode: oauth2
    clientId: cid
    clientSecret: inline-secret-value
    username: u
    accountId: a
    encType: 1
  - taxNo: 91440300MA5G9GK78Y
    name: 深圳
    edition: standard
    baseURL: https://std.example.com
    clientId: SZ
    clientSecret: env:MISSING
    encryptKey: env:SHORT
    orgNumber: "1"
  - taxNo: 91440300MA5G9GK78Y
    name: 又一个
    edition: gold
`
	_, err := Parse([]byte(bad), nil, getenv(map[string]string{"SHORT": "short"}), noFiles)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"enterprises[0].taxNo: not a taxpayer id",
		"enterprises[0].name: required",
		"enterprises[0].clientSecret: a secret is given by reference only",
		"enterprises[0].encType: a standard-edition setting",
		"enterprises[1].clientSecret: MISSING is empty or unset",
		"enterprises[1].encryptKey",
		"enterprises[1].orgNumber: an ultimate-edition setting",
		"enterprises[2].taxNo: 91440300MA5G9GK78Y is listed twice (also enterprises[1])",
		`enterprises[2].edition: must be "ultimate" or "standard", got "gold"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "inline-secret-value") || strings.Contains(err.Error(), "short\n") {
		t.Errorf("a secret leaked into the error: %v", err)
	}
	if _, err := Parse([]byte("enterprise: []\n"), nil, getenv(nil), noFiles); err == nil {
		t.Error("a misspelt key was accepted")
	}
}

func TestLookupRoutesByTaxNumber(t *testing.T) {
	specs, err := Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := r.Lookup(strings.ToLower(taxSH))
	if err != nil || sh.TaxNo != taxSH {
		t.Fatalf("lookup %s: %v %v", taxSH, sh, err)
	}
	if _, ok := sh.Cloud.(*ultimate.Client); !ok {
		t.Errorf("the ultimate enterprise's cloud is %T", sh.Cloud)
	}
	sz, _ := r.Lookup(taxSZ)
	if _, ok := sz.Cloud.(*standard.Client); !ok {
		t.Errorf("the standard enterprise's cloud is %T", sz.Cloud)
	}
	var unknown *UnknownError
	if _, err := r.Lookup("91110000600000000J"); !errors.As(err, &unknown) || !strings.Contains(err.Error(), "billTaxNo") {
		t.Errorf("unknown tax number: %v", err)
	}
	if r.Pushes() == nil {
		t.Error("no push receiver")
	}
	if got := r.List(); len(got) != 2 || got[0].TaxNo != taxSH || got[1].TaxNo != taxSZ {
		t.Errorf("list %+v", got)
	}
}

func TestFromEnvServesAnyTaxNumber(t *testing.T) {
	r, err := New(FromEnv(ultimate.Config{BaseURL: "http://127.0.0.1:1", AppID: "a", AppSecret: "s", TenantID: "t", AccountID: "c", User: "u"}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tax := range []string{taxSH, taxSZ, "anything"} {
		if e, err := r.Lookup(tax); err != nil || e.TaxNo != AnyTaxNo {
			t.Errorf("lookup %s: %v %v", tax, e, err)
		}
	}
}

func TestReplaceKeepsUnchangedClients(t *testing.T) {
	specs, _ := Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	r, err := New(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Lookup(taxSH)
	beforeSZ, _ := r.Lookup(taxSZ)
	env := map[string]string{"SH_SECRET": "sh-secret", "SZ_KEY": "fedcba9876543210"} // the standard enterprise's key rotates
	next, err := Parse([]byte(good), nil, getenv(env), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := r.Replace(next)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := r.Lookup(taxSH)
	afterSZ, _ := r.Lookup(taxSZ)
	if after != before {
		t.Error("an unchanged enterprise got a new client (its token is lost)")
	}
	if afterSZ == beforeSZ {
		t.Error("a changed enterprise kept its old client")
	}
	if len(ch.Kept) != 1 || len(ch.Changed) != 1 || len(ch.Added) != 0 || len(ch.Removed) != 0 {
		t.Errorf("change %s", ch)
	}
	ch, err = r.Replace(next[:1])
	if err != nil || len(ch.Removed) != 1 || ch.Removed[0] != taxSZ {
		t.Errorf("removal: %s %v", ch, err)
	}
	if _, err := r.Lookup(taxSZ); err == nil {
		t.Error("a removed enterprise is still routed")
	}
}

// The token endpoint is limited per set of credentials: past the burst a login waits, and a
// caller whose deadline comes first is told at once instead of hammering the cloud.
func TestTokenEndpointIsRateLimited(t *testing.T) {
	var tokenCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"errcode":"0000","description":"ok","data":{"access_token":"tok","expire_time":7200}}`))
	}))
	defer srv.Close()
	spec := Spec{TaxNo: taxSH, Name: "上海", TokenCallsPerMinute: 1,
		Settings: ultimate.Config{BaseURL: srv.URL, AuthMode: ultimate.AuthOAuth2, ClientID: "c", ClientSecret: "s", Username: "u", AccountID: "a"}}
	r, err := New([]Spec{spec}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := r.Lookup(taxSH)
	_ = e.Cloud.CheckLogin(context.Background()) // the burst of one
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = e.Cloud.CheckLogin(ctx)
	if err == nil || !strings.Contains(err.Error(), "rate") {
		t.Errorf("a second login within the minute: %v", err)
	}
	if got := tokenCalls.Load(); got != 1 {
		t.Errorf("the token endpoint was called %d times, want 1", got)
	}
}

func TestWatchReloadsOnChangeAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "enterprises.yaml")
	first := good[:strings.Index(good, "  - taxNo: 91440300MA5G9GK78Y")]
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() ([]Spec, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Parse(data, nil, getenv(goodEnv), goodFiles)
	}
	specs, err := load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	r.Watch(ctx, path, load, hup, 20*time.Millisecond)

	waitKnown := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for r.Known(taxSZ) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s known = %v", what, taxSZ, !want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if r.Known(taxSZ) {
		t.Fatal("known before it was added")
	}
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	waitKnown("after the file changed", true)

	// A broken file leaves the registry as it was.
	if err := os.WriteFile(path, []byte("enterprises: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	time.Sleep(100 * time.Millisecond)
	if !r.Known(taxSZ) || !r.Known(taxSH) {
		t.Fatal("a broken file emptied the registry")
	}
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- os.Interrupt
	waitKnown("after SIGHUP with the enterprise removed", false)
}

// pageExample is the first yaml example of a page of docs/.
func pageExample(t *testing.T, page string) []byte {
	t.Helper()
	text, err := os.ReadFile("../../docs/" + page)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(text), "```yaml\n")
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/%s has no yaml example", page)
	}
	return []byte(example)
}

// docs/enterprises.md's example, in the flat form, keeps loading.
func TestEnterprisesPageExampleLoads(t *testing.T) {
	env := map[string]string{"SH_CLIENT_SECRET": "sh-secret", "SZ_ENCRYPT_KEY": "0123456789abcdef"}
	files := func(p string) ([]byte, error) {
		if p == "/run/secrets/sz-client-secret" {
			return []byte("sz-secret\n"), nil
		}
		return nil, errors.New("missing")
	}
	specs, err := Parse(pageExample(t, "enterprises.md"), nil, getenv(env), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Edition() != ultimate.Name || specs[0].OrgNumber != "1001" ||
		specs[1].Edition() != standard.Name || specs[1].Push == nil {
		t.Errorf("specs %+v", specs)
	}
}

// docs/editions.md's example, in the block form, loads as the flat form does.
func TestEditionsPageExampleLoads(t *testing.T) {
	env := map[string]string{"SH_SECRET": "sh-secret", "SZ_ENCRYPT_KEY": "0123456789abcdef"}
	specs, err := Parse(pageExample(t, "editions.md"), nil, getenv(env), goodFiles2)
	if err != nil {
		t.Fatal(err)
	}
	sh, sz := specs[0], specs[1]
	if u, _ := sh.Settings.(ultimate.Enterprise); sh.Edition() != ultimate.Name || u.ClientSecret != "sh-secret" ||
		sh.OrgNumber != "1001" || sh.ScanPoint != "SP01" {
		t.Errorf("ultimate spec %+v", sh)
	}
	if st, _ := sz.Settings.(standard.Config); sz.Edition() != standard.Name || st.ClientSecret != "sz-secret" ||
		st.EncType != standard.EncHMACSHA256 || sz.Push == nil || sz.Push.EncryptKey != "0123456789abcdef" {
		t.Errorf("standard spec %+v", sz)
	}
}

func goodFiles2(p string) ([]byte, error) {
	if p == "/run/secrets/sz-secret" {
		return []byte("sz-secret\n"), nil
	}
	return nil, errors.New("missing")
}

// The block form names its problems inside the block, and an enterprise has one edition.
func TestBlockFormProblemsAreNamed(t *testing.T) {
	bad := `
enterprises:
  - taxNo: 91310000MA1FL0001R
    name: 上海
    ultimate:
      baseURL: https://api.example.com
      authMode: oauth2
      clientId: cid
      clientSecret: env:MISSING
      username: u
      accountId: a
      encType: 1
  - taxNo: 91440300MA5G9GK78Y
    name: 深圳
    edition: ultimate
    baseURL: https://std.example.com
    standard:
      baseURL: https://std.example.com
      clientId: SZ
      clientSecret: env:SZ
      encryptKey: env:KEY
      encType: x
  - taxNo: 91440300MA5G0T001Q
    name: 两个
    ultimate: {baseURL: https://a.example.com}
    standard: {baseURL: https://b.example.com}
`
	_, err := Parse([]byte(bad), nil, getenv(map[string]string{"SZ": "s", "KEY": "0123456789abcdef"}), noFiles)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"enterprises[0].ultimate.clientSecret: MISSING is empty or unset",
		"enterprises[0].ultimate.encType: a standard-edition setting on an ultimate enterprise",
		`enterprises[1].edition: "ultimate", but the enterprise's block is the standard edition's`,
		"enterprises[1].baseURL: not an enterprise's setting: the standard edition's settings go in its block",
		"enterprises[1].standard.encType: cannot unmarshal",
		"enterprises[2].standard: one edition block per enterprise",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The [assumed] reading of billSave is an enterprise's setting in either edition's block (the
// ultimate one defaults to RIMFLOW_CLOUD_BILLSAVE_KEEPS_OMITTED, the environment's settings).
func TestBillSaveReadingPerEnterprise(t *testing.T) {
	file := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    billSaveKeepsOmitted: true\n", 1),
		"    push: true\n", "    push: true\n    billSaveKeepsOmitted: true\n", 1)
	specs, err := Parse([]byte(file), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := specs[0].Settings.(ultimate.Enterprise)
	st, _ := specs[1].Settings.(standard.Config)
	if !u.BillSaveKeepsOmitted || !st.BillSaveKeepsOmitted {
		t.Errorf("billSaveKeepsOmitted: ultimate %v, standard %v; want both true", u.BillSaveKeepsOmitted, st.BillSaveKeepsOmitted)
	}
	specs, err = Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := specs[0].Settings.(ultimate.Enterprise); u.BillSaveKeepsOmitted {
		t.Error("an unset billSaveKeepsOmitted reads as true")
	}
}

// The poll key's [assumed] derivation per enterprise, on either edition; a value that is neither
// reading is named by its place.
func TestPollKeyPerEnterprise(t *testing.T) {
	file := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    pollKey: linkKey\n", 1),
		"    push: true\n", "    push: true\n    pollKey: linkKey\n", 1)
	specs, err := Parse([]byte(file), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := specs[0].Settings.(ultimate.Enterprise)
	st, _ := specs[1].Settings.(standard.Config)
	if u.PollKey != "linkKey" || st.PollKey != "linkKey" {
		t.Errorf("pollKey: ultimate %q, standard %q; want both linkKey", u.PollKey, st.PollKey)
	}
	bad := strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    pollKey: sha1\n", 1)
	if _, err := Parse([]byte(bad), nil, getenv(goodEnv), goodFiles); err == nil || !strings.Contains(err.Error(), "enterprises[0].pollKey") {
		t.Fatalf("a bad pollKey: %v, want it named enterprises[0].pollKey", err)
	}
}

// scanPointsOperate [assumed] is an enterprise setting on both editions (the image system's
// scanning-point list); without it the default name stays.
func TestScanPointsOperatePerEnterprise(t *testing.T) {
	file := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    scanPointsOperate: listScanPoints\n", 1),
		"    push: true\n", "    push: true\n    scanPointsOperate: ' listPoints '\n", 1)
	specs, err := Parse([]byte(file), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := specs[0].Settings.(ultimate.Enterprise)
	st, _ := specs[1].Settings.(standard.Config)
	if u.ScanPointsOperate != "listScanPoints" || st.ScanPointsOperate != "listPoints" {
		t.Errorf("scanPointsOperate: ultimate %q, standard %q", u.ScanPointsOperate, st.ScanPointsOperate)
	}
	specs, err = Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = specs[0].Settings.(ultimate.Enterprise)
	st, _ = specs[1].Settings.(standard.Config)
	if got := []string{u.WithDefaults().ScanPointsOperate, st.WithDefaults().ScanPointsOperate}; got[0] != "queryScanPoints" || got[1] != "queryScanPoints" {
		t.Errorf("default scanPointsOperate: %v", got)
	}
}

// An enterprise's limits ([assumed] bounds its bills are checked against) and the standard
// edition's paths come from the enterprises file; each bad key or value is named.
func TestLimitsAndStandardPathsPerEnterprise(t *testing.T) {
	file := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    limits: {remarkLen: 500, attachments: 10}\n", 1),
		"    push: true\n", "    push: true\n    paths: {deduction: /api/deduction/select, viewPage: ' /m4-web/view '}\n", 1)
	specs, err := Parse([]byte(file), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	if l := specs[0].Limits; l == nil || l.RemarkLen != 500 || l.Attachments != 10 || l.EntryIDLen != 0 {
		t.Errorf("limits: %+v", l)
	}
	if i := specs[0].Info().Limits; i.RemarkLen != 500 || i.EntryIDLen != 64 {
		t.Errorf("limits shown: %+v", i)
	}
	if specs[1].Limits != nil || specs[1].Info().Limits.RemarkLen != 200 {
		t.Errorf("an enterprise without limits: %+v", specs[1].Limits)
	}
	st, _ := specs[1].Settings.(standard.Config)
	d := st.WithDefaults().Paths
	if d.Deduction != "/api/deduction/select" || d.ViewPage != "/m4-web/view" || d.EntrySave != "/m4/fpzs/expense/entry/save" {
		t.Errorf("standard paths: %+v", d)
	}
	bad := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    limits: {remarkLen: 5000, bogus: 1}\n", 1),
		"    push: true\n", "    push: true\n    paths: {nope: /x, entrySave: entry/save}\n", 1)
	_, err = Parse([]byte(bad), nil, getenv(goodEnv), goodFiles)
	for _, want := range []string{"enterprises[0].limits.remarkLen: between 1 and 1000", "enterprises[0].limits.bogus: not a setting of the bill limits",
		"enterprises[1].paths.nope: not one of the edition's paths", "enterprises[1].paths.entrySave: want a path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// The ultimate edition's [assumed] names per enterprise: paths and messageTypes by name, the
// nothing-bound codes and the deduction's businessSystemCode override the environment's; the
// standard edition's nothing-bound codes too. Bad names and values are named.
func TestUltimateNamesPerEnterprise(t *testing.T) {
	file := strings.Replace(strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n"+
		"    paths: {pollData: /poll/v3}\n    messageTypes: {unbind: billRemove}\n    nothingBoundCodes: [\"2001\", \"3004\"]\n    businessSystemCode: ERP01\n", 1),
		"    push: true\n", "    push: true\n    nothingBoundCodes: [\"1306\"]\n", 1)
	specs, err := Parse([]byte(file), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := specs[0].Settings.(ultimate.Enterprise)
	d := u.WithDefaults()
	if d.Paths.PollData != "/poll/v3" || d.Paths.PollReceipt != "/polling/fpzs/portal/receipt" || d.MessageTypes.Unbind != "billRemove" ||
		d.MessageTypes.BillSave != "billSave" || strings.Join(d.NothingBoundCodes, ",") != "2001,3004" || d.BusinessSystemCode != "ERP01" {
		t.Errorf("ultimate names: paths %+v, messageTypes %+v, codes %v, businessSystemCode %q", d.Paths, d.MessageTypes, d.NothingBoundCodes, d.BusinessSystemCode)
	}
	st, _ := specs[1].Settings.(standard.Config)
	if got := strings.Join(st.WithDefaults().NothingBoundCodes, ","); got != "1306" {
		t.Errorf("standard nothing-bound codes: %s", got)
	}
	bad := strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    paths: {poll: /x}\n    messageTypes: {unbind: 'bill delete'}\n    nothingBoundCodes: [\"\"]\n", 1)
	_, err = Parse([]byte(bad), nil, getenv(goodEnv), goodFiles)
	for _, want := range []string{"enterprises[0].paths.poll: not one of the edition's paths", "enterprises[0].messageTypes.unbind: want a name",
		"enterprises[0].nothingBoundCodes: want the cloud's codes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// The pushes' age (RIMFLOW_PUSH_MAX_AGE, Options.PushMaxAge [assumed]) is the receiver's: a push an
// hour old is a stale replay by default and taken when the deployment allows two hours.
func TestPushMaxAgeIsTheRegistrys(t *testing.T) {
	specs, err := Parse([]byte(good), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	pusher := *specs[1].Push
	body, err := invoicecloud.SealPush(pusher, []byte(`{"msgId":"M1","client_id":"`+pusher.ClientID+`","tin":"`+pusher.TaxNo+`","bxd_key":"B1"}`),
		time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		age   time.Duration
		taken bool
	}{{0, false}, {2 * time.Hour, true}} {
		reg, err := New(specs, Options{PushMaxAge: c.age})
		if err != nil {
			t.Fatal(err)
		}
		_, err = reg.Pushes().Open(pusher.TaxNo, []byte(body))
		if (err == nil) != c.taken {
			t.Errorf("max age %s: a push an hour old: %v", c.age, err)
		}
	}
}
