package editions_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"rimflow/activities"
	"rimflow/activities/calls"
	"rimflow/internal/enterprises"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/editions"
)

// The walk-through of docs/editions.md, done from this test package alone: a third edition
// ("toy") is declared here and registered with one line, and an enterprises file with a toy block
// then loads, builds the toy client and routes a bill's activities to it. Nothing else in rimflow
// was touched to make it so.

// toyBlock is the toy edition's block in the enterprises file.
type toyBlock struct {
	BaseURL string `yaml:"baseURL"`
	Secret  string `yaml:"secret"`
}

func (b *toyBlock) Settings(r invoicecloud.BlockReader) invoicecloud.Settings {
	s := toySettings{BaseURL: b.BaseURL, TaxNo: r.TaxNo, Secret: r.Secret("secret", b.Secret)}
	if s.BaseURL == "" {
		r.Bad("baseURL", "required")
	}
	return s
}

// toySettings are a toy enterprise's settings.
type toySettings struct{ BaseURL, TaxNo, Secret string }

func (s toySettings) Edition() string { return "toy" }
func (s toySettings) Describe() invoicecloud.Description {
	return invoicecloud.Description{BaseURL: s.BaseURL, AuthMode: "toy"}
}
func (s toySettings) PushCredentials() (string, string) { return "", "" }
func (s toySettings) TokenEndpoint() (string, []string) {
	return "toy|" + s.BaseURL, []string{"/token"}
}
func (s toySettings) Timeouts() invoicecloud.Timeouts { return invoicecloud.Timeouts{} }
func (s toySettings) NewClient(invoicecloud.ClientOptions) (invoicecloud.EnterpriseClient, error) {
	return &toyClient{settings: s}, nil
}

// toyClient keeps what it is sent: the toy cloud is this process.
type toyClient struct {
	settings toySettings
	mu       sync.Mutex
	bound    map[string][]string // billId → serial numbers
}

func (c *toyClient) GetEventCode(_ context.Context, _ string, req invoicecloud.EventCodeRequest) (invoicecloud.EventCodeResponse, error) {
	return invoicecloud.EventCodeResponse{EventCode: "toy-" + req.BillID, LinkKey: req.LinkKey,
		Pages: invoicecloud.Pages{CollectPC: c.settings.BaseURL + "/collect/" + req.BillID}}, nil
}

func (c *toyClient) BillSave(_ context.Context, _ string, req invoicecloud.BillSaveRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bound == nil {
		c.bound = map[string][]string{}
	}
	c.bound[req.BillID] = nil
	for _, inv := range req.InvoiceData {
		c.bound[req.BillID] = append(c.bound[req.BillID], inv.SerialNo)
	}
	return nil
}

func (c *toyClient) VoucherSave(context.Context, string, invoicecloud.VoucherSaveRequest) error {
	return nil
}
func (c *toyClient) VoucherReverse(context.Context, string, invoicecloud.VoucherReverseRequest) error {
	return nil
}
func (c *toyClient) Unbind(context.Context, string, invoicecloud.UnbindRequest) error { return nil }
func (c *toyClient) Deduction(context.Context, string, invoicecloud.DeductionRequest) (invoicecloud.DeductionResult, error) {
	return invoicecloud.DeductionResult{}, nil
}
func (c *toyClient) Watch(ctx context.Context, _ string, _ invoicecloud.WatchOptions, _ func(invoicecloud.Message) error) error {
	<-ctx.Done()
	return ctx.Err()
}
func (c *toyClient) Receipt(context.Context, string, string) error { return nil }
func (c *toyClient) CheckLogin(context.Context) error {
	if c.settings.Secret == "" {
		return &invoicecloud.Error{MessageType: "auth", Field: "secret", Message: "no secret"}
	}
	return nil
}
func (c *toyClient) CreateScanTask(context.Context, string, invoicecloud.ScanTaskRequest) (invoicecloud.ScanTask, error) {
	return invoicecloud.ScanTask{}, errors.New("the toy cloud has no image system")
}
func (c *toyClient) ScanResult(context.Context, string, invoicecloud.ScanQuery) (invoicecloud.ScanResult, error) {
	return invoicecloud.ScanResult{}, errors.New("the toy cloud has no image system")
}

// toy is the edition: its name and its block.
var toy = invoicecloud.Edition{Name: "toy", NewBlock: func() invoicecloud.Block { return &toyBlock{} }}

var registerToy = sync.OnceValue(func() error { return editions.Register(toy) })

const (
	toyTaxNo      = "91330100MA2T0Y001P"
	ultimateTaxNo = "91310000MA1FL0001R"
)

func TestAThirdEditionPlugsIn(t *testing.T) {
	if err := registerToy(); err != nil {
		t.Fatal(err)
	}
	file := `
enterprises:
  - taxNo: ` + toyTaxNo + `
    name: 杭州玩具有限公司
    toy:
      baseURL: https://toy.example.com
      secret: env:TOY_SECRET
  - taxNo: ` + ultimateTaxNo + `
    name: 上海示例有限公司
    ultimate:
      baseURL: https://api.example.com
      authMode: oauth2
      clientId: cid
      clientSecret: env:SH_SECRET
      username: u
      accountId: acct
`
	env := map[string]string{"TOY_SECRET": "toy-secret", "SH_SECRET": "sh-secret"}
	specs, err := enterprises.Parse([]byte(file), nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := enterprises.New(specs, enterprises.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.List(); got[0].Edition != "toy" || got[0].BaseURL != "https://toy.example.com" || got[1].Edition != "ultimate" {
		t.Fatalf("the registry lists %+v", got)
	}
	e, err := reg.Lookup(strings.ToLower(toyTaxNo))
	if err != nil {
		t.Fatal(err)
	}
	cl, ok := e.Cloud.(*toyClient)
	if !ok {
		t.Fatalf("the toy enterprise's client is %T", e.Cloud)
	}
	if err := e.Cloud.CheckLogin(context.Background()); err != nil {
		t.Errorf("the toy client did not get its secret: %v", err)
	}

	// The activities route a toy bill to the toy client by its tax number, like any other.
	a := &activities.Activities{Enterprises: reg}
	ec, err := a.GetEventCode(context.Background(), calls.EventCodeInput{MessageID: "m1",
		Request: invoicecloud.EventCodeRequest{BillID: "B-1", BillTaxNo: toyTaxNo}})
	if err != nil || ec.EventCode != "toy-B-1" || ec.Pages.CollectPC != "https://toy.example.com/collect/B-1" {
		t.Fatalf("GetEventCode on the toy enterprise: %+v %v", ec, err)
	}
	err = a.BindInvoices(context.Background(), calls.BillSaveInput{MessageID: "m2", Request: invoicecloud.BillSaveRequest{
		BillID: "B-1", BillTaxNo: toyTaxNo, Status: invoicecloud.StatusInUse,
		InvoiceData: []invoicecloud.BillInvoice{{SerialNo: "S1"}, {SerialNo: "S2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if got := strings.Join(cl.bound["B-1"], ","); got != "S1,S2" {
		t.Errorf("the toy cloud holds %q for B-1", got)
	}
}

// The toy block is read by the toy edition alone: a key of another edition, an unknown key and a
// missing setting are each named by place, and "edition" lists the toy among the editions.
func TestAThirdEditionsProblemsAreNamed(t *testing.T) {
	if err := registerToy(); err != nil {
		t.Fatal(err)
	}
	file := `
enterprises:
  - taxNo: ` + toyTaxNo + `
    name: 杭州玩具有限公司
    toy:
      authMode: oauth2
      colour: red
      secret: inline
  - taxNo: ` + ultimateTaxNo + `
    name: 上海示例有限公司
    edition: gold
`
	_, err := enterprises.Parse([]byte(file), nil, func(string) string { return "" }, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"enterprises[0].toy.authMode: an ultimate-edition setting on a toy enterprise",
		"enterprises[0].toy.colour: not a setting of the toy edition",
		"enterprises[0].toy.secret: a secret is given by reference only",
		"enterprises[0].toy.baseURL: required",
		`enterprises[1].edition: must be "ultimate", "standard" or "toy", got "gold"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
