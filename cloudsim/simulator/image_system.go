package simulator

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The image system (影像系统; docs/invoicecloud.md, "The standard edition's guide": 影像系统配置 and
// 影像系统操作手册). The ERP side creates a scan task
// for a bill (ultimate: POST /kapi/app/bds/erpBillPush, public path; standard: the [assumed]
// StandardPaths.ImagePush) and asks its result (…/bds/operate {operateType:"queryBillStatus"}).
// Bodies and answers are [assumed]; see docs/cloudsim.md. Modes:
//   - basic: a scanning post scans; images are stored → "stored".
//   - match: a scanning post scans; the scan is compared with the structured invoices bound to
//     the bill (30/60) → "matched", or "mismatch" with one line per problem.
//   - submitter: no scanning post; the images come with the task, which is "stored" at once.
// The scanning post is played by POST /__sim/scan and the page /__sim/scanpost.

// Scan task states (wire values [assumed]).
const (
	ScanPending  = "pending"
	ScanStored   = "stored"
	ScanMatched  = "matched"
	ScanMismatch = "mismatch"
)

type imageState struct {
	tasks  map[billKey]*scanTask // the bill's current task
	byNo   map[string]*scanTask
	pushes []ImagePushView             // received at the push address, in order (image_push.go)
	pushed map[billKey][]pushedInvoice // the invoices pushed for each bill
}

func newImageState() *imageState {
	return &imageState{tasks: map[billKey]*scanTask{}, byNo: map[string]*scanTask{}, pushed: map[billKey][]pushedInvoice{}}
}

type scanTask struct {
	view ScanTaskView
	key  billKey
}

// ScannedInvoice is one invoice the scanning post read off the paper.
type ScannedInvoice struct {
	InvoiceCode string          `json:"invoiceCode,omitempty"`
	InvoiceNo   string          `json:"invoiceNo"`
	TotalAmount decimal.Decimal `json:"totalAmount"`
}

// MatchLine is one problem of a match.
type MatchLine struct {
	SerialNo    string           `json:"serialNo,omitempty"`
	InvoiceCode string           `json:"invoiceCode,omitempty"`
	InvoiceNo   string           `json:"invoiceNo"`
	Expected    *decimal.Decimal `json:"expectedAmount,omitempty"`
	Scanned     *decimal.Decimal `json:"scannedAmount,omitempty"`
	Problem     string           `json:"problem"` // missing | amount | extra
}

// ScanTaskView is a task in /__sim/scantasks and the answer of queryBillStatus.
type ScanTaskView struct {
	TaskNo     string           `json:"taskNo"`
	Edition    Edition          `json:"edition"`
	Enterprise string           `json:"enterprise"`
	Resource   string           `json:"resource"`
	BillID     string           `json:"billId"`
	BillNo     string           `json:"billNo"`
	Mode       string           `json:"imageMode"`
	ScanPoint  string           `json:"scanPoint,omitempty"`
	Status     string           `json:"status"`
	Images     int              `json:"images"`
	ImageNames []string         `json:"imageNames,omitempty"`
	Scanned    []ScannedInvoice `json:"scanned,omitempty"`
	Lines      []MatchLine      `json:"matchResult"`
	CreatedAt  time.Time        `json:"createdAt"`
	ScannedAt  *time.Time       `json:"scannedAt,omitempty"`
}

func (s *Sim) imageRoutes(product func(method, path string, h http.HandlerFunc), mux *http.ServeMux) {
	product("POST", "/kapi/app/bds/erpBillPush", s.ultimateImageCall("erpBillPush", s.ultScanTask))
	product("POST", "/kapi/app/bds/operate", s.ultimateImageCall("queryBillStatus", s.ultScanQuery))
	mux.HandleFunc("GET /__sim/scantasks", s.simScanTasks)
	mux.HandleFunc("GET /__sim/scantasks/{taskNo}", s.simScanTask)
	mux.HandleFunc("POST /__sim/scan", s.simScan)
	mux.HandleFunc("GET /__sim/scanpost", s.simScanPostPage)
	mux.HandleFunc("POST /__sim/scanpost", s.simScanPostSubmit)
}

// ultimateImageCall serves an ultimate /kapi/app/bds/ call: token as /kapi/, the plain body,
// faults by call name, the message-style answer.
func (s *Sim) ultimateImageCall(name string, op func(f fields) (any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.checkBusinessToken(w, r) {
			return
		}
		s.stats.StandardCalls[name]++
		if rerr != nil {
			writeJSON(w, http.StatusOK, messageAnswer(nil, &apiError{code: codeBadJSON, field: "body", msg: "body: " + rerr.Error()}))
			return
		}
		f, aerr := parseFields("", body)
		if aerr == nil {
			if status, _ := s.faultFor(name); status != 0 {
				writeJSON(w, status, faultAnswer(status))
				return
			}
		}
		var data any
		if aerr == nil {
			data, aerr = op(f)
		}
		writeJSON(w, http.StatusOK, messageAnswer(data, aerr))
	}
}

func (s *Sim) ultScanTask(f fields) (any, *apiError) {
	return s.createScanTask(s.tenants.ultimate, f)
}

func (s *Sim) ultScanQuery(f fields) (any, *apiError) {
	return s.queryScanTask(s.tenants.ultimate, f)
}

// stdScanTask and stdScanQuery are the standard edition's: the tenant's enterprise only.
func (s *Sim) stdScanTask(t *tenantState, f fields, n *callNote) (any, *apiError) {
	if _, err := t.tin(f); err != nil {
		return nil, err
	}
	data, err := s.createScanTask(t, f)
	return data, back(err, nil)
}

func (s *Sim) stdScanQuery(t *tenantState, f fields, n *callNote) (any, *apiError) {
	if _, err := t.tin(f); err != nil {
		return nil, err
	}
	data, err := s.queryScanTask(t, f)
	return data, back(err, nil)
}

// createScanTask validates erpBillPush and makes it the bill's task (replacing an older one).
// Caller holds s.mu.
func (s *Sim) createScanTask(t *tenantState, f fields) (any, *apiError) {
	var p [4]string
	var err *apiError
	for i, sp := range []struct {
		name string
		max  int
	}{{"scanBillNo", 0}, {"resource", 10}, {"billNo", 0}, {"billType", 0}} {
		if p[i], err = f.str(sp.name, true, sp.max); err != nil {
			return nil, err
		}
	}
	key := billKey{Resource: p[1], BillID: p[0]}
	mode, err := f.oneOf("imageMode", true, "basic", "match", "submitter")
	if err != nil {
		return nil, err
	}
	point, err := f.str("scanPoint", mode != "submitter", 0)
	if err != nil {
		return nil, err
	}
	if point != "" && !slices.ContainsFunc(t.ScanPoints, func(sp ScanPoint) bool { return sp.ID == point }) {
		return nil, badParam("scanPoint", "不存在的影像扫描点 "+point)
	}
	images, err := f.list("images", mode == "submitter")
	if err != nil {
		return nil, err
	}
	if mode == "submitter" && len(images) == 0 {
		return nil, badParam("images", "影像同步提单人模式必须上传影像 (at least one image)")
	}
	var names []string
	total := 0
	for _, img := range images {
		name, err := img.str("fileName", true, 0)
		if err != nil {
			return nil, err
		}
		if _, err := img.oneOf("fileType", true, "pdf", "jpg", "jpeg", "png", "PDF", "JPG", "JPEG", "PNG"); err != nil {
			return nil, err
		}
		b64, err := img.str("base64", true, 0)
		if err != nil {
			return nil, err
		}
		raw, derr := base64.StdEncoding.DecodeString(b64)
		if derr != nil {
			return nil, badParam(img.path("base64"), "must be standard base64")
		}
		total += len(raw)
		names = append(names, name)
	}
	if limit := s.opts.ImageUploadMaxBytes; total > limit {
		return nil, badParam("images", fmt.Sprintf("影像文件过大: %d bytes of files, at most %d per task [assumed]", total, limit))
	}
	b := s.bills[key]
	if b != nil && s.owner(b) != t {
		return nil, businessError(CodeBillNotFound, "scanBillNo", "单据不属于本企业 ("+key.Resource+"/"+key.BillID+")")
	}
	if mode == "match" && !t.ImageFromPushes && (b == nil || len(s.boundSerials(b)) == 0) {
		return nil, businessError(CodeBillNotFound, "scanBillNo", "影像匹配需要单据已关联发票 (the bill has no bound invoice to match)")
	}
	enterprise := t.TaxNo
	if b != nil {
		enterprise = s.enterpriseOf(b)
	} else if enterprise == "" {
		enterprise, _ = f.str("billTaxNo", false, 0)
	}
	task := &scanTask{key: key, view: ScanTaskView{
		TaskNo: "S" + s.Now().Format("20060102") + randomDigits(s.codeRand, 10), Edition: t.Edition, Enterprise: enterprise,
		Resource: key.Resource, BillID: key.BillID, BillNo: p[2], Mode: mode, ScanPoint: point, Status: ScanPending,
		Lines: []MatchLine{}, CreatedAt: s.Now(),
	}}
	if mode == "submitter" {
		now := s.Now()
		task.view.Status, task.view.Images, task.view.ImageNames, task.view.ScannedAt = ScanStored, len(names), names, &now
	}
	s.images.tasks[key] = task
	s.images.byNo[task.view.TaskNo] = task
	s.stats.ScanTasks++
	return map[string]any{"taskNo": task.view.TaskNo, "status": task.view.Status}, nil
}

// queryScanTask answers queryBillStatus {operateType, data:{scanBillNo, resource}}.
func (s *Sim) queryScanTask(t *tenantState, top fields) (any, *apiError) {
	if op, err := top.str("operateType", true, 0); err != nil {
		return nil, err
	} else if op == s.opts.Paths.ScanPointsOperate {
		// [assumed]: the list the vendor's setup fetches (获取影像扫描点).
		return map[string]any{"scanPoints": slices.Clone(t.ScanPoints)}, nil
	} else if op != "queryBillStatus" {
		return nil, &apiError{code: codeUnknownType, field: "operateType", msg: "operateType: 不支持 " + op + " (want queryBillStatus or " + s.opts.Paths.ScanPointsOperate + ")"}
	}
	f, err := top.requiredObj("data")
	if err != nil {
		return nil, err
	}
	id, err := f.str("scanBillNo", true, 0)
	if err != nil {
		return nil, err
	}
	res, err := f.str("resource", true, 10)
	if err != nil {
		return nil, err
	}
	task := s.images.tasks[billKey{Resource: res, BillID: id}]
	if task == nil || (task.view.Edition != t.Edition || (t.Edition == EditionStandard && task.view.Enterprise != t.TaxNo)) {
		return nil, businessError(CodeBillNotFound, "data.scanBillNo", "该单据没有影像任务 ("+res+"/"+id+")")
	}
	return task.view.clone(), nil
}

func (v ScanTaskView) clone() ScanTaskView {
	v.ImageNames, v.Scanned, v.Lines = slices.Clone(v.ImageNames), slices.Clone(v.Scanned), slices.Clone(v.Lines)
	if v.Lines == nil {
		v.Lines = []MatchLine{}
	}
	return v
}

// boundSerials are the bill's invoices in use or used; caller holds the Sim's mu.
func (k *books) boundSerials(b *bill) []string {
	var out []string
	for _, sn := range b.serials {
		if st := k.pool[sn].status; st == StatusInUse || st == StatusUsed {
			out = append(out, sn)
		}
	}
	return out
}

// ScanRequest is what the scanning post scanned (POST /__sim/scan): the task by taskNo or by
// bill, and either the invoices read off the paper, or AsBound (exactly the bill's bound
// invoices: a perfect scan), or Mismatch (the bound invoices, the first one's amount off by 1.00).
type ScanRequest struct {
	TaskNo   string           `json:"taskNo"`
	Resource string           `json:"resource"`
	BillID   string           `json:"billId"`
	Invoices []ScannedInvoice `json:"invoices"`
	AsBound  bool             `json:"asBound"`
	Mismatch bool             `json:"mismatch"`
	Images   int              `json:"images"`
}

// Scan plays the scanning post on a pending (or already scanned) basic/match task.
func (s *Sim) Scan(req ScanRequest) (ScanTaskView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	task := s.images.byNo[req.TaskNo]
	if req.TaskNo == "" {
		task = s.images.tasks[billKey{Resource: req.Resource, BillID: req.BillID}]
	}
	switch {
	case task == nil:
		return ScanTaskView{}, fieldError("taskNo", "no such scan task")
	case task.view.Mode == "submitter":
		return ScanTaskView{}, fieldError("taskNo", "submitter mode has no scanning post: the images came with the task")
	case req.Images < 0:
		return ScanTaskView{}, fieldError("images", "must not be negative")
	case (req.AsBound || req.Mismatch) && len(req.Invoices) > 0:
		return ScanTaskView{}, fieldError("invoices", "give invoices, or asBound/mismatch, not both")
	}
	scanned := req.Invoices
	if req.AsBound || req.Mismatch {
		scanned = nil
		for i, sn := range s.boundSerials(s.bills[task.key]) {
			inv := s.pool[sn].inv
			amount := inv.TotalAmount
			if req.Mismatch && i == 0 {
				amount = amount.Add(decimal.NewFromInt(1))
			}
			scanned = append(scanned, ScannedInvoice{InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, TotalAmount: amount})
		}
	}
	for i, inv := range scanned {
		if strings.TrimSpace(inv.InvoiceNo) == "" {
			return ScanTaskView{}, fieldError(fmt.Sprintf("invoices[%d].invoiceNo", i), "required")
		}
	}
	now := s.Now()
	v := &task.view
	v.Scanned, v.ScannedAt, v.Images = scanned, &now, req.Images
	if v.Images == 0 {
		v.Images = max(1, len(scanned))
	}
	v.Status, v.Lines = ScanStored, []MatchLine{}
	if v.Mode == "match" {
		if t := s.owner(s.bills[task.key]); t.ImageFromPushes {
			v.Lines = matchPushed(s.images.pushed[task.key], scanned)
		} else {
			v.Lines = s.match(s.bills[task.key], scanned)
		}
		v.Status = ScanMatched
		if len(v.Lines) > 0 {
			v.Status = ScanMismatch
		}
	}
	s.stats.Scans++
	return v.clone(), nil
}

// match compares the scan with the bill's bound invoices (影像匹配): each bound invoice must be
// scanned (by invoiceNo, and invoiceCode when both sides have one) with its totalAmount, and
// nothing else may be scanned. Caller holds the Sim's mu.
func (k *books) match(b *bill, scanned []ScannedInvoice) []MatchLine {
	lines := []MatchLine{}
	used := make([]bool, len(scanned))
	for _, sn := range k.boundSerials(b) {
		inv := k.pool[sn].inv
		want := inv.TotalAmount
		found := -1
		for i, sc := range scanned {
			if !used[i] && sc.InvoiceNo == inv.InvoiceNo && (sc.InvoiceCode == "" || inv.InvoiceCode == "" || sc.InvoiceCode == inv.InvoiceCode) {
				found = i
				break
			}
		}
		if found < 0 {
			lines = append(lines, MatchLine{SerialNo: sn, InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, Expected: &want, Problem: "missing"})
			continue
		}
		used[found] = true
		if got := scanned[found].TotalAmount; !got.Equal(want) {
			lines = append(lines, MatchLine{SerialNo: sn, InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, Expected: &want, Scanned: &got, Problem: "amount"})
		}
	}
	for i, sc := range scanned {
		if !used[i] {
			got := sc.TotalAmount
			lines = append(lines, MatchLine{InvoiceCode: sc.InvoiceCode, InvoiceNo: sc.InvoiceNo, Scanned: &got, Problem: "extra"})
		}
	}
	return lines
}

// matchPushed is match against the invoices the image system received by push for the bill (a
// tenant with ImageFromPushes): what was never pushed is "extra", as the image system cannot know it.
func matchPushed(pushed []pushedInvoice, scanned []ScannedInvoice) []MatchLine {
	lines := []MatchLine{}
	used := make([]bool, len(scanned))
	for _, inv := range pushed {
		want := inv.TotalAmount
		found := slices.IndexFunc(scanned, func(sc ScannedInvoice) bool {
			return sc.InvoiceNo == inv.InvoiceNo && (sc.InvoiceCode == "" || inv.InvoiceCode == "" || sc.InvoiceCode == inv.InvoiceCode)
		})
		if found < 0 || used[found] {
			lines = append(lines, MatchLine{SerialNo: inv.SerialNo, InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, Expected: &want, Problem: "missing"})
			continue
		}
		used[found] = true
		if got := scanned[found].TotalAmount; !got.Equal(want) {
			lines = append(lines, MatchLine{SerialNo: inv.SerialNo, InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, Expected: &want, Scanned: &got, Problem: "amount"})
		}
	}
	for i, sc := range scanned {
		if !used[i] {
			got := sc.TotalAmount
			lines = append(lines, MatchLine{InvoiceCode: sc.InvoiceCode, InvoiceNo: sc.InvoiceNo, Scanned: &got, Problem: "extra"})
		}
	}
	return lines
}

// ScanTasks lists every bill's current task, ordered by taskNo.
func (s *Sim) ScanTasks() []ScanTaskView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ScanTaskView, 0, len(s.images.tasks))
	for _, t := range s.images.tasks {
		out = append(out, t.view.clone())
	}
	slices.SortFunc(out, func(a, b ScanTaskView) int { return strings.Compare(a.TaskNo, b.TaskNo) })
	return out
}

func (s *Sim) simScanTasks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"tasks": s.ScanTasks()})
}

func (s *Sim) simScanTask(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	task := s.images.byNo[r.PathValue("taskNo")]
	var v ScanTaskView
	if task != nil {
		v = task.view.clone()
	}
	s.mu.Unlock()
	if task == nil {
		writeSimError(w, http.StatusNotFound, fieldError("taskNo", "no such scan task"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) simScan(w http.ResponseWriter, r *http.Request) {
	var req ScanRequest
	if err := strictDecode(r, &req); err != nil {
		writeSimError(w, http.StatusBadRequest, err)
		return
	}
	v, err := s.Scan(req)
	if err != nil {
		status := http.StatusBadRequest
		if fe, ok := err.(*FieldError); ok && fe.Field == "taskNo" && strings.HasPrefix(fe.Reason, "no such") {
			status = http.StatusNotFound
		}
		writeSimError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// scanPostData is the scanning post page: the pending (and scanned) basic/match tasks of a
// scanning point, each with a form pre-filled with the bill's bound invoices as on paper.
type scanPostData struct {
	ScanPoint string
	Tasks     []scanPostTask
	Result    *ScanTaskView
	Error     string
}

type scanPostTask struct {
	ScanTaskView
	Paper []ScannedInvoice
}

func (s *Sim) simScanPostPage(w http.ResponseWriter, r *http.Request) {
	s.renderScanPost(w, http.StatusOK, r.URL.Query().Get("scanPoint"), nil, "")
}

func (s *Sim) renderScanPost(w http.ResponseWriter, status int, point string, result *ScanTaskView, msg string) {
	data := scanPostData{ScanPoint: point, Result: result, Error: msg}
	s.mu.Lock()
	for _, task := range s.images.tasks {
		if task.view.Mode == "submitter" || (point != "" && task.view.ScanPoint != point) {
			continue
		}
		pt := scanPostTask{ScanTaskView: task.view.clone()}
		if b := s.bills[task.key]; b != nil {
			for _, sn := range s.boundSerials(b) {
				inv := s.pool[sn].inv
				pt.Paper = append(pt.Paper, ScannedInvoice{InvoiceCode: inv.InvoiceCode, InvoiceNo: inv.InvoiceNo, TotalAmount: inv.TotalAmount})
			}
		}
		data.Tasks = append(data.Tasks, pt)
	}
	s.mu.Unlock()
	slices.SortFunc(data.Tasks, func(a, b scanPostTask) int { return strings.Compare(a.TaskNo, b.TaskNo) })
	s.pages.render(w, status, "scanpost.html", data)
}

// simScanPostSubmit is the page's 「扫描」: invoiceNo/invoiceCode/totalAmount triples (empty
// invoiceNo rows are blank lines on the form) and the image count.
func (s *Sim) simScanPostSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderScanPost(w, http.StatusBadRequest, "", nil, "表单无法解析。")
		return
	}
	f := r.PostForm
	req := ScanRequest{TaskNo: f.Get("taskNo"), Invoices: []ScannedInvoice{}}
	if n := f.Get("images"); n != "" {
		if _, err := fmt.Sscan(n, &req.Images); err != nil {
			s.renderScanPost(w, http.StatusBadRequest, f.Get("scanPoint"), nil, "影像张数必须是整数。")
			return
		}
	}
	nos, codes, amounts := f["invoiceNo"], f["invoiceCode"], f["totalAmount"]
	for i, no := range nos {
		if strings.TrimSpace(no) == "" {
			continue
		}
		inv := ScannedInvoice{InvoiceNo: strings.TrimSpace(no)}
		if i < len(codes) {
			inv.InvoiceCode = strings.TrimSpace(codes[i])
		}
		if i < len(amounts) {
			d, err := decimal.NewFromString(strings.TrimSpace(amounts[i]))
			if err != nil {
				s.renderScanPost(w, http.StatusBadRequest, f.Get("scanPoint"), nil, "金额不是数字："+amounts[i])
				return
			}
			inv.TotalAmount = d
		}
		req.Invoices = append(req.Invoices, inv)
	}
	v, err := s.Scan(req)
	if err != nil {
		s.renderScanPost(w, http.StatusBadRequest, f.Get("scanPoint"), nil, err.Error())
		return
	}
	s.renderScanPost(w, http.StatusOK, f.Get("scanPoint"), &v, "")
}
