// Package enterprises is the enterprise registry (企业授权配置): the legal entities a group runs on
// Invoice Cloud, each with its tax number, its edition's settings (credentials, accounting
// organisation), image system and push settings. A bill is routed by its billTaxNo to its
// enterprise for every cloud call, page and watcher.
//
// The registry is a YAML file (RIMFLOW_ENTERPRISES_FILE) with one block per enterprise's edition,
// read by that edition (invoicecloud/editions); secrets are references (env:NAME or file:PATH),
// never inline. Without a file, the RIMFLOW_CLOUD_* variables describe a registry of one
// enterprise that serves any tax number its tenant accepts.
package enterprises

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"rimflow/internal/secretref"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/editions"
)

// Edition is the name of the Invoice Cloud product that serves an enterprise ("ultimate",
// "standard": invoicecloud/editions lists them).
type Edition = string

// AnyTaxNo is the tax number of the registry of one described by RIMFLOW_CLOUD_*: it serves every
// bill, whatever its billTaxNo (the tenant decides what it accepts).
const AnyTaxNo = "*"

// DefaultTokenCallsPerMinute is the public limit of the oauth2 token endpoint (30 calls a minute),
// applied per set of credentials to every token endpoint.
const DefaultTokenCallsPerMinute = 30

// Spec is one enterprise as the registry describes it (secrets resolved).
type Spec struct {
	TaxNo string
	Name  string
	// OrgNumber is the accounting organisation, where the tenant holds several: a bill without its
	// own orgNumber is sent with this one.
	OrgNumber string
	// Settings are the enterprise's settings of its edition: they build its client.
	Settings invoicecloud.Settings
	// ScanPoint is the image system's scanning point (影像扫描点) for this enterprise's bills; empty:
	// the enterprise's scans are reported by the ERP (the bill's images update).
	ScanPoint string
	// Push, when set, is the AWS收票推送 row: the cloud pushes this enterprise's invoices to
	// POST /v1/push/{taxNo}, encrypted with its encrypt_key.
	Push *invoicecloud.PushEnterprise
	// TokenCallsPerMinute limits the token endpoint for these credentials (0: the default 30).
	TokenCallsPerMinute int
	// Image, when set, is the enterprise's image system at its own address (imageSystem:): the
	// registry checks its scanning point and its client against it when it loads.
	Image *ImageSystem
	// Limits, when set, are the enterprise's own bounds where the vendor states none (limits:
	// entryIdLen, remarkLen, coverBytes, attachments, uploadBytes [assumed]); the API freezes them
	// into each of its bills at start. nil: invoicecloud.DefaultLimits.
	Limits *invoicecloud.Limits
}

// ImageSystem is an enterprise's image system (影像系统) as its imageSystem block gives it.
type ImageSystem struct {
	// BaseURL is the image system's own address (影像系统的接口地址): the public demo
	// http://kdimage-demo.piaozone.com/, production https://api.piaozone.com/, a private deployment
	// http://ip:port/api/. Its calls use the enterprise's credentials (客户端编码、口令: the
	// enterprise authorization's client id and secret).
	BaseURL string
	// AllowPlainHTTP accepts a plain http BaseURL (and PushURL) to a private address (never to a
	// public one).
	AllowPlainHTTP bool
	// Modes are the image modes (影像模式) the image system is set up for: basic, match, submitter
	// (none given: all three). match and submitter need the cloud's push to reach the image system
	// (收票配置: "同步和匹配模式必须配置").
	Modes []string
	// Push is what feeds the image system the cloud's pushed invoices (AWS收票推送): PushRelay
	// (rimflow receives them, push: true, and relays each to PushURL once recorded), PushDirect
	// (the vendor's push table names the image system's address: rimflow receives none), or ""
	// (nothing: only basic mode may be set up).
	Push string
	// PushURL is the image system's push address (推送地址) for PushRelay; empty: BaseURL, as the
	// vendor's push table gives the image system's login address [assumed].
	PushURL string
}

// The image system's push topologies (ImageSystem.Push).
const (
	PushRelay  = "relay"
	PushDirect = "direct"
)

// ImageModes are the vendor's image modes, as the bills name them (options.imageMode).
var ImageModes = []string{"basic", "match", "submitter"}

// pushFed are the image modes that need the push at the image system: 影像匹配 matches the scan
// with the pushed invoices, 影像同步提单人 (sync) files the submitter's images with them.
var pushFed = []string{"match", "submitter"}

// RelayURL is where relayed pushes go: PushURL, else BaseURL.
func (i *ImageSystem) RelayURL() string {
	if i.PushURL != "" {
		return i.PushURL
	}
	return i.BaseURL
}

// SetUpFor reports whether the image system is set up for the image mode (no Modes: every mode).
func (i *ImageSystem) SetUpFor(mode string) bool {
	return len(i.Modes) == 0 || slices.Contains(i.Modes, mode)
}

// checkPush checks the push topology against the image modes and the enterprise's push: what
// needs the push must be fed, a relay needs rimflow to receive (push: true), and a direct push
// means rimflow receives none (the push table has one address per enterprise [assumed]).
// Errors name the field (imageSystem.push, push).
func (s Spec) checkPush() error {
	img := s.Image
	if img == nil {
		return nil
	}
	switch img.Push {
	case "":
		modes := img.Modes
		if len(modes) == 0 {
			modes = ImageModes
		}
		for _, m := range modes {
			if slices.Contains(pushFed, m) {
				return invoicecloud.ConfigError("imageSystem.push", "image mode "+m+" needs the cloud's push at the image system (收票配置: 同步和匹配模式必须配置), and nothing feeds it: "+
					"say relay (with push: true: rimflow relays each push it records) or direct (the vendor pushes to the image system), or list only basic in imageSystem.modes")
			}
		}
	case PushRelay:
		if s.Push == nil {
			return invoicecloud.ConfigError("imageSystem.push", "relay needs push: true (rimflow receives the cloud's push, then relays it)")
		}
	case PushDirect:
		if s.Push != nil {
			return invoicecloud.ConfigError("push", "the cloud pushes to the image system directly (imageSystem.push: direct): rimflow receives no push, the push table has one address")
		}
	default:
		return invoicecloud.ConfigError("imageSystem.push", "want relay or direct, not "+img.Push)
	}
	return nil
}

// Edition is the name of the enterprise's edition.
func (s Spec) Edition() Edition {
	if s.Settings == nil {
		return ""
	}
	return s.Settings.Edition()
}

// Info is what the registry shows of an enterprise: no secret.
type Info struct {
	TaxNo     string  `json:"taxNo"`
	Name      string  `json:"name"`
	Edition   Edition `json:"edition"`
	BaseURL   string  `json:"baseUrl"`
	AuthMode  string  `json:"authMode"`            // legacy | oauth2 (ultimate); signed (standard)
	OrgNumber string  `json:"orgNumber,omitempty"` // the accounting organisation
	ScanPoint string  `json:"scanPoint,omitempty"` // image system scanning point; empty: the ERP reports scans
	Push      bool    `json:"push"`                // invoices are pushed to /v1/push/{taxNo}
	// ImageBaseURL is the image system's own address ("": it answers at baseUrl).
	ImageBaseURL string `json:"imageBaseUrl,omitempty"`
	// ImagePush is what feeds the image system the cloud's pushes: relay (rimflow relays them),
	// direct (the cloud pushes there), "" (nothing).
	ImagePush string `json:"imagePush,omitempty"`
	// Limits are the bounds its new bills are checked against (its limits block, else the defaults).
	Limits invoicecloud.Limits `json:"limits"`
}

// Info describes s without secrets.
func (s Spec) Info() Info {
	i := Info{TaxNo: s.TaxNo, Name: s.Name, Edition: s.Edition(), OrgNumber: s.OrgNumber, ScanPoint: s.ScanPoint, Push: s.Push != nil,
		Limits: s.Limits.Or()}
	if s.Image != nil {
		i.ImageBaseURL, i.ImagePush = s.Image.BaseURL, s.Image.Push
	}
	if s.Settings != nil {
		d := s.Settings.Describe()
		i.BaseURL, i.AuthMode = d.BaseURL, d.AuthMode
	}
	return i
}

// fingerprint identifies a spec's settings: a reload keeps an enterprise's client (and its token)
// when it is unchanged. Secrets are part of it but it is never shown.
func (s Spec) fingerprint() string {
	return fmt.Sprintf("%s|%s|%s|%s|%v|%d|%v|%v|%T%+v", s.TaxNo, s.Name, s.OrgNumber, s.ScanPoint, s.Push, s.TokenCallsPerMinute, s.Image, s.Limits, s.Settings, s.Settings)
}

// file is the registry's YAML: per enterprise its own keys (common) and one block named after its
// edition, which that edition reads:
//
//	enterprises:
//	  - taxNo: 91310000MA1FL0001R
//	    name: 上海示例有限公司
//	    scanPoint: SP01              # optional: the image system's scanning point
//	    ultimate:                    # the edition's block (invoicecloud/ultimate)
//	      baseURL: https://api.kingdee.com
//	      authMode: oauth2
//	      clientId: …
//	      clientSecret: env:SH_SECRET
//	      username: …
//	      accountId: …
//	      orgNumber: "1001"
//	  - taxNo: 91440300MA5G000020
//	    name: 深圳示例有限公司
//	    push: true                   # the cloud pushes collected invoices to /v1/push/{taxNo}
//	    standard:                    # invoicecloud/standard
//	      baseURL: https://api.piaozone.com
//	      clientId: …
//	      clientSecret: file:/run/secrets/sz-secret
//	      encryptKey: env:SZ_ENCRYPT_KEY
//	      encType: 0
//
// The flat form of earlier releases stays accepted: "edition: ultimate" and the edition's keys
// beside the enterprise's own.
type file struct {
	Enterprises []yaml.Node `yaml:"enterprises"`
}

// common are an enterprise's own keys, whatever its edition.
type common struct {
	TaxNo               string `yaml:"taxNo"`
	Name                string `yaml:"name"`
	Edition             string `yaml:"edition"` // the flat form: the edition whose keys stand beside these
	ScanPoint           string `yaml:"scanPoint"`
	Push                bool   `yaml:"push"`
	TokenCallsPerMinute int    `yaml:"tokenCallsPerMinute"`
	// ImageSystem is decoded key by key (imageBlock), so a key it does not have is named.
	ImageSystem yaml.Node `yaml:"imageSystem"`
	// Limits is decoded key by key (invoicecloud.Limits) too.
	Limits yaml.Node `yaml:"limits"`
}

// imageBlock is an enterprise's imageSystem block:
//
//	imageSystem:
//	  baseURL: http://10.0.8.20:8080/api/   # 影像系统的接口地址
//	  allowPlainHTTP: true                   # plain http, private address only
//	  modes: [basic, match]                  # 影像模式 it is set up for (default: all three)
//	  push: relay                            # relay | direct: what feeds it the cloud's push
//	  pushURL: http://10.0.8.20:8080/        # 推送地址 for relay (default: baseURL)
type imageBlock struct {
	BaseURL        string   `yaml:"baseURL"`
	AllowPlainHTTP bool     `yaml:"allowPlainHTTP"`
	Modes          []string `yaml:"modes"`
	Push           string   `yaml:"push"`
	PushURL        string   `yaml:"pushURL"`
}

// Parse reads a registry. env are the settings RIMFLOW_CLOUD_* describe (nil: none): every
// enterprise takes what its edition shares from them (the [assumed] names, timeouts). Secrets are
// resolved with getenv and readFile. Every problem is reported, each naming its place
// (enterprises[1].standard.clientSecret).
func Parse(data []byte, env invoicecloud.Settings, getenv func(string) string, readFile func(string) ([]byte, error)) ([]Spec, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("enterprises: %v", err)
	}
	if len(f.Enterprises) == 0 {
		return nil, errors.New("enterprises: the file lists no enterprise")
	}
	p := parser{env: env, getenv: getenv, readFile: readFile, seen: map[string]int{}}
	specs := make([]Spec, 0, len(f.Enterprises))
	for i, n := range f.Enterprises {
		specs = append(specs, p.enterprise(i, n))
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return specs, nil
}

type parser struct {
	env      invoicecloud.Settings
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	seen     map[string]int // tax number → its entry
	errs     []error
}

func (p *parser) bad(where, field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s.%s: %s", where, field, fmt.Sprintf(format, args...)))
}

// edition block of an enterprise: the edition's name, its keys and values, and where they stand.
type editionBlock struct {
	name, where string
	pairs       []*yaml.Node // key, value, key, value, …
}

func (p *parser) enterprise(i int, n yaml.Node) Spec {
	where := fmt.Sprintf("enterprises[%d]", i)
	before := len(p.errs)
	if n.Kind != yaml.MappingNode {
		p.errs = append(p.errs, fmt.Errorf("%s: want the enterprise's settings (taxNo, name, its edition's block)", where))
		return Spec{}
	}
	// Sort the keys: the enterprise's own, an edition's block, and the rest (the flat form's).
	var own, rest []*yaml.Node
	var blocks []editionBlock
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, val := n.Content[k], n.Content[k+1]
		_, ed := editions.Lookup(key.Value)
		switch {
		case slices.Contains(commonKeys, key.Value):
			own = append(own, key, val)
		case ed && val.Kind == yaml.MappingNode:
			blocks = append(blocks, editionBlock{name: key.Value, where: where + "." + key.Value, pairs: val.Content})
		default:
			rest = append(rest, key, val)
		}
	}
	var c common
	decodePairs(own, &c, func(field, msg string) { p.bad(where, field, "%s", msg) })
	taxNo := invoicecloud.NormalizeTaxNo(c.TaxNo)
	if !invoicecloud.ValidTaxNo(taxNo) {
		p.bad(where, "taxNo", "not a taxpayer id (18-character unified social credit code, or 15/17/20 letters and digits)")
	} else if j, dup := p.seen[taxNo]; dup {
		p.bad(where, "taxNo", "%s is listed twice (also enterprises[%d])", taxNo, j)
	}
	p.seen[taxNo] = i
	s := Spec{TaxNo: taxNo, Name: strings.TrimSpace(c.Name), ScanPoint: c.ScanPoint, TokenCallsPerMinute: c.TokenCallsPerMinute}
	s.Image = p.imageSystem(where+".imageSystem", &c.ImageSystem)
	s.Limits = p.limits(where+".limits", &c.Limits)
	if s.Name == "" {
		p.bad(where, "name", "required")
	}
	if c.TokenCallsPerMinute < 0 {
		p.bad(where, "tokenCallsPerMinute", "must not be negative")
	}

	b, ok := p.editionOf(where, c.Edition, blocks, rest)
	if !ok {
		return s
	}
	ed, _ := editions.Lookup(b.name)
	block := ed.NewBlock()
	p.decodeBlock(b, block)
	secret := func(field, ref string) string {
		if ref == "" {
			return ""
		}
		v, err := secretref.Resolve(ref, p.getenv, p.readFile)
		if err != nil {
			p.bad(b.where, field, "%v", err)
			return ""
		}
		return string(v)
	}
	s.Settings = block.Settings(invoicecloud.BlockReader{TaxNo: taxNo, Name: s.Name, Push: c.Push, Env: p.env, Secret: secret,
		Bad: func(field, format string, args ...any) { p.bad(b.where, field, format, args...) },
		Judge: func(err error) { // the client's own verdict, unless this entry is already wrong
			if err != nil && len(p.errs) == before {
				p.bad(b.where, fieldOf(err), "%s", messageOf(err))
			}
		}})
	if s.Settings != nil {
		s.OrgNumber = s.Settings.Describe().OrgNumber
		if c.Push {
			id, key := s.Settings.PushCredentials()
			if key == "" || id == "" {
				p.bad(where, "push", "a pushing enterprise needs its clientId and encryptKey (the push is encrypted with it)")
			}
			s.Push = &invoicecloud.PushEnterprise{TaxNo: taxNo, Name: s.Name, ClientID: id, EncryptKey: key}
		}
	}
	if err := s.checkPush(); err != nil && len(p.errs) == before {
		p.bad(where, fieldOf(err), "%s", messageOf(err))
	}
	return s
}

// imageSystem reads an enterprise's imageSystem block (nil when it has none).
func (p *parser) imageSystem(where string, n *yaml.Node) *ImageSystem {
	if n.Kind == 0 {
		return nil
	}
	var b imageBlock
	if !p.keyed(where, n, &b, "the image system") {
		return nil
	}
	img := &ImageSystem{BaseURL: strings.TrimSpace(b.BaseURL), AllowPlainHTTP: b.AllowPlainHTTP, Modes: b.Modes,
		Push: strings.TrimSpace(b.Push), PushURL: strings.TrimSpace(b.PushURL)}
	if err := invoicecloud.ValidateImageBaseURL(img.BaseURL, img.AllowPlainHTTP); err != nil {
		p.bad(where, fieldOf(err), "%s", messageOf(err))
	}
	for i, m := range img.Modes {
		if !slices.Contains(ImageModes, m) {
			p.bad(where, fmt.Sprintf("modes[%d]", i), "want one of %s, not %q", strings.Join(ImageModes, ", "), m)
		}
	}
	if img.PushURL != "" {
		if err := invoicecloud.ValidateImageBaseURL(img.PushURL, img.AllowPlainHTTP); err != nil {
			p.bad(where, "pushURL", "%s", messageOf(err))
		}
	}
	return img
}

// limits reads an enterprise's limits block (nil when it has none):
//
//	limits:              # [assumed] bounds the vendor does not state; 0 or absent: the default
//	  entryIdLen: 64     # a line's entryId, characters
//	  remarkLen: 200     # a line's or an attachment's remark, characters
//	  coverBytes: 262144 # the cover's file
//	  attachments: 200   # attachments a bill keeps
//	  uploadBytes: 1048576 # the submitter's images with one scan task
func (p *parser) limits(where string, n *yaml.Node) *invoicecloud.Limits {
	if n.Kind == 0 {
		return nil
	}
	var l invoicecloud.Limits
	if !p.keyed(where, n, &l, "the bill limits") {
		return nil
	}
	if err := l.Check(); err != nil {
		p.bad(where, fieldOf(err), "%s", messageOf(err))
	}
	return &l
}

// keyed decodes the mapping n into the struct v points to key by key, naming every key v does not
// have (what names v in the messages); false when n is not a mapping.
func (p *parser) keyed(where string, n *yaml.Node, v any, what string) bool {
	known := yamlKeys(v)
	if n.Kind != yaml.MappingNode {
		p.errs = append(p.errs, fmt.Errorf("%s: want the settings of %s (%s)", where, what, strings.Join(known, ", ")))
		return false
	}
	var pairs []*yaml.Node
	for k := 0; k+1 < len(n.Content); k += 2 {
		if !slices.Contains(known, n.Content[k].Value) {
			p.bad(where, n.Content[k].Value, "not a setting of %s (%s)", what, strings.Join(known, ", "))
			continue
		}
		pairs = append(pairs, n.Content[k], n.Content[k+1])
	}
	decodePairs(pairs, v, func(field, msg string) { p.bad(where, field, "%s", msg) })
	return true
}

// commonKeys are the keys of common: an enterprise's own.
var commonKeys = yamlKeys(&common{})

// editionOf finds the enterprise's edition block: the one block named after an edition, or in the
// flat form the keys beside the enterprise's own, of the edition its "edition" names.
func (p *parser) editionOf(where, edition string, blocks []editionBlock, rest []*yaml.Node) (editionBlock, bool) {
	edition = strings.ToLower(strings.TrimSpace(edition))
	switch {
	case len(blocks) > 1:
		p.bad(where, blocks[1].name, "one edition block per enterprise (it has %s's already)", blocks[0].name)
		return editionBlock{}, false
	case len(blocks) == 1:
		b := blocks[0]
		if edition != "" && edition != b.name {
			p.bad(where, "edition", "%q, but the enterprise's block is the %s edition's", edition, b.name)
		}
		for k := 0; k+1 < len(rest); k += 2 {
			p.bad(where, rest[k].Value, "not an enterprise's setting: the %s edition's settings go in its block", b.name)
		}
		return b, true
	}
	if _, ok := editions.Lookup(edition); !ok {
		p.bad(where, "edition", "must be %s, got %q", quotedList(editions.Names()), edition)
		return editionBlock{}, false
	}
	return editionBlock{name: edition, where: where, pairs: rest}, true
}

// decodeBlock decodes b into block key by key: a key block does not have is named, and so is a
// key another edition has (its setting on an enterprise of the wrong edition).
func (p *parser) decodeBlock(b editionBlock, block invoicecloud.Block) {
	known := yamlKeys(block)
	var pairs []*yaml.Node
	for k := 0; k+1 < len(b.pairs); k += 2 {
		key := b.pairs[k].Value
		if slices.Contains(known, key) {
			pairs = append(pairs, b.pairs[k], b.pairs[k+1])
			continue
		}
		if other := editionWithKey(key, b.name); other != "" {
			p.bad(b.where, key, "%s %s-edition setting on %s %s enterprise", article(other), other, article(b.name), b.name)
		} else {
			p.bad(b.where, key, "not a setting of the %s edition", b.name)
		}
	}
	decodePairs(pairs, block, func(field, msg string) { p.bad(b.where, field, "%s", msg) })
}

// editionWithKey is the first edition other than not whose block has key ("" when none).
func editionWithKey(key, not string) string {
	for _, name := range editions.Names() {
		if ed, _ := editions.Lookup(name); name != not && slices.Contains(yamlKeys(ed.NewBlock()), key) {
			return name
		}
	}
	return ""
}

// decodePairs decodes key/value pairs into v one by one, so a value of the wrong type is named by
// its key.
func decodePairs(pairs []*yaml.Node, v any, bad func(field, msg string)) {
	for k := 0; k+1 < len(pairs); k += 2 {
		one := yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: pairs[k : k+2]}
		if err := one.Decode(v); err != nil {
			msg := err.Error()
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 {
				msg = te.Errors[0]
			}
			if at, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(at, "line ") {
				msg = rest + " (" + at + ")" // the key first: it is the place
			}
			bad(pairs[k].Value, msg)
		}
	}
}

// yamlKeys are the yaml keys of the struct v points to.
func yamlKeys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// quotedList is `"a" or "b"`, `"a", "b" or "c"`.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// ReadFile reads the registry at path (env: Parse's).
func ReadFile(path string, env invoicecloud.Settings, getenv func(string) string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enterprises file %q: %w", path, err)
	}
	specs, err := Parse(data, env, getenv, os.ReadFile)
	if err != nil {
		return nil, fmt.Errorf("enterprises file %q: %w", path, err)
	}
	return specs, nil
}

// FromEnv is the registry of one that RIMFLOW_CLOUD_* describe: a tenant serving any tax number.
func FromEnv(s invoicecloud.Settings) []Spec {
	return []Spec{{TaxNo: AnyTaxNo, Name: "RIMFLOW_CLOUD_*", Settings: s}}
}

// fieldOf and messageOf split a client configuration error into the field it names and its text.
func fieldOf(err error) string {
	var ce *invoicecloud.Error
	if errors.As(err, &ce) && ce.Field != "" {
		return ce.Field
	}
	return "config"
}

func messageOf(err error) string {
	var ce *invoicecloud.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}
