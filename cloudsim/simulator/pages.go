package simulator

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/shopspring/decimal"
)

// The invoice-assistant pages (发票助手) opened with an eventCode: collect (PC and mobile) and view.
// Plain server-rendered HTML, no external assets, so a test can drive them without a browser.

//go:embed templates/*.html
var templateFS embed.FS

type pageRenderer struct{ t *template.Template }

func newPageRenderer() *pageRenderer {
	return &pageRenderer{t: template.Must(template.New("pages").ParseFS(templateFS, "templates/*.html"))}
}

func (p *pageRenderer) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "page rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Form names of the vendor's pages.
const (
	formCollectPC     = "rim_fpzs_main"
	formCollectMobile = "rim_mobile_index"
	formViewPC        = "rim_view_invoice"
	formViewMobile    = "rim_invoice_list_mobile"
)

type errorPage struct {
	Status  int
	Title   string
	Message string
}

func (s *Sim) errorPage(w http.ResponseWriter, status int, title, msg string) {
	s.pages.render(w, status, "error.html", errorPage{Status: status, Title: title, Message: msg})
}

// eventCodeErrorPage renders the page for an eventCode that cannot open anything.
func (s *Sim) eventCodeErrorPage(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrEventCodeExpired):
		s.errorPage(w, http.StatusGone, "链接已失效", "eventCode 已过期（有效期"+s.opts.EventCodeTTL.String()+"）。请回到单据重新点击「采集发票」或「查看发票」。")
	case errors.Is(err, ErrUnknownEventCode):
		s.errorPage(w, http.StatusNotFound, "链接无效", "eventCode 不存在。请回到单据重新打开发票助手。")
	case errors.Is(err, ErrLinkKeyConsumed):
		s.errorPage(w, http.StatusConflict, "链接已使用", "本采集链接的 linkKey 已推送过一次发票（一个linkKey只能消费一次），不能再导入。请回到单据重新点击「采集发票」，打开新的采集页面。")
	default:
		s.errorPage(w, http.StatusBadRequest, "请求错误", err.Error())
	}
}

func (s *Sim) handlePCPage(w http.ResponseWriter, r *http.Request) {
	s.formPage(w, r, "formId", formCollectPC, formViewPC, false)
}

func (s *Sim) handleMobilePage(w http.ResponseWriter, r *http.Request) {
	s.formPage(w, r, "form", formCollectMobile, formViewMobile, true)
}

// formPage opens the page the form parameter names: the collect or the view page.
func (s *Sim) formPage(w http.ResponseWriter, r *http.Request, param, collect, view string, mobile bool) {
	switch form := r.URL.Query().Get(param); form {
	case collect:
		s.collectPage(w, r, mobile)
	case view:
		s.viewPage(w, r, mobile)
	default:
		s.errorPage(w, http.StatusNotFound, "页面不存在", "未知的 "+param+"："+form)
	}
}

type billSummary struct {
	BillNo, BillType, Resource, BillID string
	Companies                          []Company
}

type invoiceRow struct {
	SerialNo, TypeCode, TypeName, InvoiceNo, InvoiceCode, Date string
	Seller, SellerTaxNo, Buyer, BuyerTaxNo                     string
	Amount, TaxRate, Tax, Total                                string
	Compliant, Imported                                        bool
	Reason, Status, StatusLabel                                string
	Accounted                                                  bool
}

func rowOf(inv Invoice) invoiceRow {
	rate := inv.TaxRate
	if d, err := decimal.NewFromString(inv.TaxRate); err == nil {
		rate = d.Mul(decimal.NewFromInt(100)).String() + "%"
	}
	return invoiceRow{
		SerialNo: inv.SerialNo, TypeCode: inv.InvoiceType, TypeName: invoiceTypeName(inv.InvoiceType),
		InvoiceNo: inv.InvoiceNo, InvoiceCode: inv.InvoiceCode, Date: inv.InvoiceDate,
		Seller: inv.SalerName, SellerTaxNo: inv.SalerTaxNo, Buyer: inv.BuyerName, BuyerTaxNo: inv.BuyerTaxNo,
		Amount: inv.InvoiceAmount.StringFixed(2), TaxRate: rate, Tax: inv.TotalTaxAmount.StringFixed(2),
		Total: inv.TotalAmount.StringFixed(2),
	}
}

type collectPageData struct {
	Mobile     bool
	EventCode  string
	Action     string
	ViewURL    string
	Bill       billSummary
	Rows       []invoiceRow
	Importable int
	Total      string
	Strict     bool // the buyer's name is checked too
	Consumed   bool // strict: the linkKey delivered its message; importing is refused
}

// summaryOf describes the bill on its pages; caller holds s.mu.
func (s *sampler) summaryOf(b *bill) billSummary {
	return billSummary{BillNo: b.billNo, BillType: b.billType, Resource: b.key.Resource, BillID: b.key.BillID, Companies: s.acceptedBuyers(b)}
}

func viewURL(mobile bool, code string) string {
	if mobile {
		return "mobile.html?form=" + formViewMobile + "&eventCode=" + url.QueryEscape(code)
	}
	return "index.html?formId=" + formViewPC + "&eventCode=" + url.QueryEscape(code)
}

func collectURL(mobile bool, code string) string {
	if mobile {
		return "mobile.html?form=" + formCollectMobile + "&eventCode=" + url.QueryEscape(code)
	}
	return "index.html?formId=" + formCollectPC + "&eventCode=" + url.QueryEscape(code)
}

// pageBill finds the bill a page's eventCode opens. On success it returns holding s.mu (the caller
// unlocks); otherwise it has answered with the error page.
func (s *Sim) pageBill(w http.ResponseWriter, r *http.Request) (string, *bill, bool) {
	code := strings.TrimSpace(r.URL.Query().Get("eventCode"))
	if code == "" {
		s.errorPage(w, http.StatusBadRequest, "缺少参数", "eventCode 必填。")
		return "", nil, false
	}
	s.mu.Lock()
	b, err := s.lookupEventCode(code)
	if err != nil {
		s.mu.Unlock()
		s.eventCodeErrorPage(w, err)
		return "", nil, false
	}
	return code, b, true
}

func (s *Sim) collectPage(w http.ResponseWriter, r *http.Request, mobile bool) {
	code, b, ok := s.pageBill(w, r)
	if !ok {
		return
	}
	data := collectPageData{Mobile: mobile, EventCode: code, Action: relative(importPath), ViewURL: viewURL(mobile, code),
		Bill: s.summaryOf(b), Strict: s.opts.Strict}
	if s.opts.Strict {
		data.Consumed = s.linkQueue(s.eventCodes[code].linkKey).consumed
	}
	total := decimal.Zero
	for _, sv := range s.sampleViews(b) {
		row := rowOf(sv.Invoice)
		row.Compliant, row.Reason, row.Imported = sv.Compliant, sv.Reason, sv.Imported
		if sv.Compliant && !sv.Imported {
			data.Importable++
			total = total.Add(sv.Invoice.TotalAmount)
		}
		data.Rows = append(data.Rows, row)
	}
	s.mu.Unlock()
	data.Total = total.StringFixed(2)
	s.pages.render(w, http.StatusOK, "collect.html", data)
}

type resultPageData struct {
	Mobile    bool
	Delivered []invoiceRow
	Refused   []Refusal
	Count     int
	BackURL   string
	ViewURL   string
	PushType  string
	MsgID     string
}

// handleImport is 「导入单据」: the checked serial numbers are imported and pushed to the bill.
func (s *Sim) handleImport(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "请求错误", "表单无法解析。")
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("eventCode"))
	mobile := r.PostForm.Get("mobile") == "1"
	if code == "" {
		s.errorPage(w, http.StatusBadRequest, "缺少参数", "eventCode 必填。")
		return
	}
	serials := r.PostForm["serialNo"]
	if len(serials) == 0 {
		s.errorPage(w, http.StatusBadRequest, "没有选择发票", "请至少勾选一张发票再点击「导入单据」。")
		return
	}
	res, err := s.ImportSelected(code, serials)
	if err != nil {
		s.eventCodeErrorPage(w, err)
		return
	}
	data := resultPageData{Mobile: mobile, Refused: res.Refused, Count: len(res.Delivered),
		BackURL: collectURL(mobile, code), ViewURL: viewURL(mobile, code), MsgID: res.MsgID}
	for _, inv := range res.Delivered {
		data.Delivered = append(data.Delivered, rowOf(inv))
	}
	s.pages.render(w, http.StatusOK, "result.html", data)
}

type viewPageData struct {
	Mobile     bool
	Bill       billSummary
	Status     string
	Rows       []invoiceRow
	VouchNo    string
	Unbound    bool
	CollectURL string
}

func (s *Sim) viewPage(w http.ResponseWriter, r *http.Request, mobile bool) {
	code, b, ok := s.pageBill(w, r)
	if !ok {
		return
	}
	data := viewPageData{Mobile: mobile, Bill: s.summaryOf(b), Status: b.status, Unbound: b.unbound, CollectURL: collectURL(mobile, code)}
	for _, sn := range b.serials {
		pi := s.pool[sn]
		row := rowOf(pi.inv)
		row.Status, row.StatusLabel, row.Accounted = pi.status, StatusLabel(pi.status), pi.voucherID != ""
		data.Rows = append(data.Rows, row)
	}
	if v := s.vouchers[b.key]; v != nil {
		data.VouchNo = v.VouchNo
	}
	s.mu.Unlock()
	s.pages.render(w, http.StatusOK, "view.html", data)
}

type homePageData struct {
	PollData, PollReceipt, Unbind string
}

func (s *Sim) handleHome(w http.ResponseWriter, _ *http.Request) {
	s.pages.render(w, http.StatusOK, "home.html", homePageData{
		PollData: s.opts.Paths.PollData, PollReceipt: s.opts.Paths.PollReceipt, Unbind: s.opts.Paths.UnbindMessageType,
	})
}
