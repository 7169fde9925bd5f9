package invoicecloud

import "fmt"

// Limits bound what one bill carries to the cloud where the vendor's texts give no number
// [assumed]: the ERP's line fields, the cover, the attachments, the submitter's images. rimflow
// is strict where the vendor is silent (DefaultLimits); an enterprise whose cloud takes more or
// less sets its own (its limits block in the enterprises file). The API copies them into each bill
// at start, where they stay frozen for the bill's life: a bill started under other limits keeps
// its own. A zero field takes the default.
type Limits struct {
	// EntryIDLen bounds a line's entryId (the ERP's expense line), in characters.
	EntryIDLen int `json:"entryIdLen,omitempty" yaml:"entryIdLen"`
	// RemarkLen bounds a line's and an attachment's remark, in characters.
	RemarkLen int `json:"remarkLen,omitempty" yaml:"remarkLen"`
	// CoverBytes bounds the cover's file (coverData, decoded).
	CoverBytes int `json:"coverBytes,omitempty" yaml:"coverBytes"`
	// Attachments bounds the attachments one bill keeps (attachData).
	Attachments int `json:"attachments,omitempty" yaml:"attachments"`
	// UploadBytes bounds the submitter's images (decoded) one image-system scan task takes.
	UploadBytes int `json:"uploadBytes,omitempty" yaml:"uploadBytes"`
	// AttachURLLen and AttachNameLen bound an attachment's attachUrl and attachName, in characters.
	AttachURLLen  int `json:"attachUrlLen,omitempty" yaml:"attachUrlLen"`
	AttachNameLen int `json:"attachNameLen,omitempty" yaml:"attachNameLen"`
	// OutputRemarkOptional lets a line transfer tax out (outputAmount) without its reason
	// (remark): the vendor's table marks remark optional (否), but a transfer out without a reason
	// is what an auditor asks about, so rimflow requires it unless the enterprise says otherwise.
	OutputRemarkOptional bool `json:"outputRemarkOptional,omitempty" yaml:"outputRemarkOptional"`
}

// DefaultLimits are rimflow's bounds where the vendor states none [assumed].
var DefaultLimits = Limits{EntryIDLen: 64, RemarkLen: 200, CoverBytes: 256 << 10, Attachments: 200, UploadBytes: 1 << 20,
	AttachURLLen: 1024, AttachNameLen: 200}

// CeilingLimits are the most an enterprise may set. The cover, the attachments and the images
// travel in the bill's Temporal payloads (Base64: a third more), which Temporal refuses above
// 2 MiB; the text bounds keep a billSave of many lines within the cloud's body limits.
var CeilingLimits = Limits{EntryIDLen: 255, RemarkLen: 1000, CoverBytes: 1 << 20, Attachments: 500, UploadBytes: 1 << 20,
	AttachURLLen: 4096, AttachNameLen: 1000, OutputRemarkOptional: true}

// Or is l with every unset field the default; a nil l (a bill started before limits were frozen
// into it) is DefaultLimits, the constants those bills were checked against.
func (l *Limits) Or() Limits {
	if l == nil {
		return DefaultLimits
	}
	out := *l
	for _, f := range out.fields() {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return out
}

// Check names the first field outside 0 (the default) … the ceiling.
func (l Limits) Check() error {
	for _, f := range l.fields() {
		if *f.v < 0 || *f.v > f.max {
			return ConfigError(f.name, fmt.Sprintf("between 1 and %d (0 or absent: %d), got %d", f.max, f.def, *f.v))
		}
	}
	return nil
}

type limitField struct {
	name     string
	v        *int
	def, max int
}

func (l *Limits) fields() []limitField {
	d, c := DefaultLimits, CeilingLimits
	return []limitField{
		{"entryIdLen", &l.EntryIDLen, d.EntryIDLen, c.EntryIDLen},
		{"remarkLen", &l.RemarkLen, d.RemarkLen, c.RemarkLen},
		{"coverBytes", &l.CoverBytes, d.CoverBytes, c.CoverBytes},
		{"attachments", &l.Attachments, d.Attachments, c.Attachments},
		{"uploadBytes", &l.UploadBytes, d.UploadBytes, c.UploadBytes},
		{"attachUrlLen", &l.AttachURLLen, d.AttachURLLen, c.AttachURLLen},
		{"attachNameLen", &l.AttachNameLen, d.AttachNameLen, c.AttachNameLen},
	}
}
