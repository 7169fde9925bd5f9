package enterprises

import (
	"net/http/httptest"
	"strings"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// The image system's own address in the file: checked by its rules, every problem named.
func TestParseImageSystem(t *testing.T) {
	with := func(block string) string {
		return strings.Replace(good, "    scanPoint: SP01\n", "    scanPoint: SP01\n    imageSystem:\n"+block, 1)
	}
	specs, err := Parse([]byte(with("      baseURL: http://10.0.8.20:8080/api/\n      allowPlainHTTP: true\n      push: direct\n")), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	if img := specs[0].Image; img == nil || img.BaseURL != "http://10.0.8.20:8080/api/" || !img.AllowPlainHTTP || specs[1].Image != nil {
		t.Fatalf("image systems: %+v, %+v", specs[0].Image, specs[1].Image)
	}
	if info := specs[0].Info(); info.ImageBaseURL != "http://10.0.8.20:8080/api/" {
		t.Fatalf("info: %+v", info)
	}
	for _, c := range []struct{ block, want string }{
		{"      baseURL: http://10.0.8.20:8080/api/\n", "enterprises[0].imageSystem.allowPlainHTTP"},
		{"      baseURL: http://kdimage-demo.piaozone.com/\n      allowPlainHTTP: true\n", "enterprises[0].imageSystem.baseURL: plain http"},
		{"      allowPlainHTTP: true\n", "enterprises[0].imageSystem.baseURL: required"},
		{"      baseURL: https://image.example\n      pushUrl: x\n", "enterprises[0].imageSystem.pushUrl: not a setting of the image system"},
		{"      baseURL: https://image.example\n      allowPlainHTTP: maybe\n", "enterprises[0].imageSystem.allowPlainHTTP"},
	} {
		_, err := Parse([]byte(with(c.block)), nil, getenv(goodEnv), goodFiles)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.block, err, c.want)
		}
	}
}

// Loading an enterprise with an image system asks it for its scanning points at its own address:
// an unknown scanning point, or a client the image system does not accept, refuses the enterprise
// naming the field; an image system out of reach is logged and the enterprise loads.
func TestImageSystemCheckedAtLoad(t *testing.T) {
	tenant := simulator.Tenant{Edition: simulator.EditionStandard, Name: "深圳示例有限公司", TaxNo: taxSZ,
		ClientID: "SZ-IMG", ClientSecret: "sz-secret", EncryptKey: "0123456789abcdef",
		ScanPoints: []simulator.ScanPoint{{ID: "SP07", Name: "深圳扫描岗"}}}
	sim := simulator.New(simulator.Options{Tenants: []simulator.Tenant{simulator.UltimateTenant(), tenant}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	cred := simulator.DefaultCredentials()
	ult := ultimate.Config{BaseURL: srv.URL, AppID: cred.AppID, AppSecret: cred.AppSecret, TenantID: cred.TenantID,
		AccountID: cred.AccountID, User: cred.User}
	std := standard.Config{BaseURL: srv.URL, TaxNo: taxSZ, CompanyName: tenant.Name, ClientID: tenant.ClientID,
		ClientSecret: tenant.ClientSecret, EncryptKey: tenant.EncryptKey}
	image := &ImageSystem{BaseURL: srv.URL + simulator.ImageSystemPrefix, Push: PushDirect}
	specs := func(sh, sz string, mutate func(*standard.Config)) []Spec {
		s := std
		if mutate != nil {
			mutate(&s)
		}
		return []Spec{
			{TaxNo: taxSH, Name: "上海示例有限公司", Settings: ult, ScanPoint: sh, Image: image},
			{TaxNo: taxSZ, Name: tenant.Name, Settings: s, ScanPoint: sz, Image: image},
		}
	}
	reg, err := New(specs(simulator.DefaultScanPoint.ID, "SP07", nil), Options{})
	if err != nil {
		t.Fatalf("both image systems list the scanning points: %v", err)
	}
	if st := sim.Stats(); st.ImageSystemEndpoints["/kapi/app/bds/operate"] != 1 || st.ImageSystemEndpoints["/m4/bds/operate"] != 1 {
		t.Fatalf("the image systems were not asked at their own address: %+v", sim.Stats())
	}
	for _, c := range []struct {
		name   string
		specs  []Spec
		naming []string
	}{
		{"scanning point not listed", specs(simulator.DefaultScanPoint.ID, "SP99", nil), []string{"enterprises[1] (" + taxSZ + ")", "scanPoint", `"SP99"`, "SP07"}},
		{"client not accepted", specs(simulator.DefaultScanPoint.ID, "SP07", func(c *standard.Config) { c.ClientSecret = "wrong" }),
			[]string{"enterprises[1] (" + taxSZ + ")", "imageSystem.clientId"}},
	} {
		if _, err := reg.Replace(c.specs); err == nil {
			t.Errorf("%s: loaded", c.name)
		} else {
			for _, want := range c.naming {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v, want it to name %s", c.name, err, want)
				}
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("%s: the secret shows in %v", c.name, err)
			}
		}
	}
	// Out of reach: loaded, the scan tasks will retry.
	gone := httptest.NewServer(nil)
	gone.Close()
	far := specs(simulator.DefaultScanPoint.ID, "SP07", nil)
	far[1].Image = &ImageSystem{BaseURL: gone.URL, Push: PushDirect}
	if _, err := reg.Replace(far); err != nil {
		t.Fatalf("an image system out of reach refused the enterprise: %v", err)
	}
}

// What feeds the image system the cloud's push, per enterprise: the modes that need it (match and
// sync, 同步和匹配模式必须配置) are refused when nothing does; a relay needs rimflow to receive the
// push, a direct push means it receives none.
func TestImagePushTopology(t *testing.T) {
	// enterprises[0] is the ultimate one (no push), enterprises[1] the standard one (push: true).
	with := func(i int, block string) string {
		anchor := []string{"    scanPoint: SP01\n", "    push: true\n"}[i]
		return strings.Replace(good, anchor, anchor+"    imageSystem:\n      baseURL: https://image.example/\n"+block, 1)
	}
	for _, c := range []struct {
		name, file, want string // want "": loads
	}{
		{"every mode, nothing feeds it", with(0, ""), "enterprises[0].imageSystem.push: image mode match needs the cloud's push"},
		{"submitter, nothing feeds it", with(0, "      modes: [basic, submitter]\n"), "enterprises[0].imageSystem.push: image mode submitter needs"},
		{"basic only needs no push", with(0, "      modes: [basic]\n"), ""},
		{"direct, rimflow receives none", with(0, "      push: direct\n"), ""},
		{"relay without receiving", with(0, "      push: relay\n"), "enterprises[0].imageSystem.push: relay needs push: true"},
		{"relay", with(1, "      push: relay\n"), ""},
		{"direct while rimflow receives", with(1, "      push: direct\n"), "enterprises[1].push: the cloud pushes to the image system directly"},
		{"an unknown topology", with(1, "      push: sideways\n"), "enterprises[1].imageSystem.push: want relay or direct"},
		{"an unknown mode", with(1, "      push: relay\n      modes: [basic, scan]\n"), "enterprises[1].imageSystem.modes[1]"},
		{"a public plain push address", with(1, "      push: relay\n      allowPlainHTTP: true\n      pushURL: http://8.8.8.8/push\n"), "enterprises[1].imageSystem.pushURL: plain http"},
	} {
		specs, err := Parse([]byte(c.file), nil, getenv(goodEnv), goodFiles)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case c.want == "" && c.name == "relay":
			img := specs[1].Image
			if img.RelayURL() != "https://image.example/" || specs[1].Info().ImagePush != PushRelay {
				t.Errorf("relay: relays to %q (info %+v), want the image system's base URL", img.RelayURL(), specs[1].Info())
			}
		}
	}
	relay := (&ImageSystem{BaseURL: "https://image.example/", PushURL: "https://image.example/push"}).RelayURL()
	if relay != "https://image.example/push" {
		t.Errorf("pushURL given: relays to %q", relay)
	}
	// The registry checks it too, for specs that come from elsewhere (the devstack's).
	specs, err := Parse([]byte(with(1, "      push: relay\n")), nil, getenv(goodEnv), goodFiles)
	if err != nil {
		t.Fatal(err)
	}
	specs[1].Push = nil
	if _, err := New(specs, Options{}); err == nil || !strings.Contains(err.Error(), "enterprises[1] (91440300MA5G9GK78Y): imageSystem.push: relay needs push: true") {
		t.Errorf("New with a relay that receives nothing: %v", err)
	}
}

// A standard enterprise's [assumed] paths set in the file are the ones its client calls: against
// a simulator whose image system answers at other paths, the registry's load asks the scanning
// points there; without them it asks at the default path, and the 404 refuses the enterprise.
func TestStandardPathsFromTheFileAreCalled(t *testing.T) {
	tenant := simulator.Tenant{Edition: simulator.EditionStandard, Name: "深圳示例有限公司", TaxNo: taxSZ,
		ClientID: "SZ-IMG", ClientSecret: "sz-secret", EncryptKey: "0123456789abcdef",
		ScanPoints: []simulator.ScanPoint{{ID: "SP07", Name: "深圳扫描岗"}}}
	sim := simulator.New(simulator.Options{Tenants: []simulator.Tenant{tenant},
		StandardPaths: simulator.StandardPaths{ImageOperate: "/private/bds/operate", ImagePush: "/private/bds/erpBillPush"}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	file := func(paths string) []byte {
		return []byte(`
enterprises:
  - taxNo: ` + taxSZ + `
    name: 深圳示例有限公司
    scanPoint: SP07
    imageSystem:
      baseURL: ` + srv.URL + simulator.ImageSystemPrefix + `
      allowPlainHTTP: true
      push: direct
      modes: [basic]
    standard:
      baseURL: ` + srv.URL + `
      clientId: SZ-IMG
      clientSecret: env:SZ_SECRET
      encryptKey: env:SZ_KEY
` + paths)
	}
	env := getenv(map[string]string{"SZ_SECRET": "sz-secret", "SZ_KEY": "0123456789abcdef"})
	specs, err := Parse(file("      paths:\n        imageOperate: /private/bds/operate\n        imagePush: /private/bds/erpBillPush\n"), nil, env, noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(specs, Options{}); err != nil {
		t.Fatalf("the paths the image system answers at: %v", err)
	}
	if n := sim.Stats().ImageSystemEndpoints["/private/bds/operate"]; n != 1 {
		t.Fatalf("the scanning points were not asked at the file's path: %+v", sim.Stats().ImageSystemEndpoints)
	}
	specs, err = Parse(file(""), nil, env, noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(specs, Options{}); err == nil || !strings.Contains(err.Error(), "refuses to list its scanning points") {
		t.Fatalf("the default paths on a cloud that moved them: %v", err)
	}
	if n := sim.Stats().ImageSystemEndpoints["/private/bds/operate"]; n != 1 {
		t.Fatalf("the default paths reached the private one: %+v", sim.Stats().ImageSystemEndpoints)
	}
}
