package invoicecloud

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/shopspring/decimal"
)

// The image system (影像系统, seed-003): the paper originals of a bill are scanned at a scanning
// point (影像扫描点) before finance review. The ERP creates a scan task for the bill and later asks
// for its result. Three modes:
//   - basic 基础模式: a scanning post scans; the images are only stored.
//   - match 影像匹配: a scanning post scans; the scan is matched against the structured invoices
//     bound to the bill (二次匹配): every bound invoice scanned with its amount, nothing else.
//   - submitter 影像同步提单人: no scanning post; the submitter's images travel with the task,
//     which is done at once.
//
// Ultimate edition: /kapi/app/bds/erpBillPush and /kapi/app/bds/operate {operateType:
// "queryBillStatus"} (public paths; bodies and answers [assumed]). Standard edition: the same
// bodies on its [assumed] image paths, encrypted like its other calls.

// ImageSystem is what a bill's image review needs, whichever edition serves the enterprise.
type ImageSystem interface {
	// CreateScanTask pushes the bill to the image system (a new task replaces the bill's
	// previous one, e.g. after a mismatch and a re-collect).
	CreateScanTask(ctx context.Context, requestID string, req ScanTaskRequest) (ScanTask, error)
	// ScanResult asks how the bill's task stands (queryBillStatus).
	ScanResult(ctx context.Context, requestID string, q ScanQuery) (ScanResult, error)
}

// ImageMode is the image system's mode for a bill.
type ImageMode string

const (
	ImageBasic     ImageMode = "basic"     // 基础模式
	ImageMatch     ImageMode = "match"     // 影像匹配
	ImageSubmitter ImageMode = "submitter" // 影像同步提单人
)

// ScanState is where a scan task stands.
type ScanState string

const (
	ScanPending  ScanState = "pending"  // 待扫描: waiting for the scanning post
	ScanStored   ScanState = "stored"   // 已扫描/已上传: images stored (basic, submitter: done)
	ScanMatched  ScanState = "matched"  // 匹配成功 (match mode)
	ScanMismatch ScanState = "mismatch" // 匹配失败: see ScanResult.Lines (match mode)
)

// ImageFile is one image uploaded with the task (submitter mode).
type ImageFile struct {
	Name   string `json:"fileName"`
	Type   string `json:"fileType"` // pdf | jpg | jpeg | png
	Base64 string `json:"base64"`
}

// ScanTaskRequest is erpBillPush's body [assumed shape]: the bill (rimflow's billId is the scan
// number printed on the cover), the mode, the scanning point and, in submitter mode, the images.
type ScanTaskRequest struct {
	BillID    string      `json:"scanBillNo"`
	Resource  string      `json:"resource"`
	BillNo    string      `json:"billNo"`
	BillType  string      `json:"billType"`
	BillTaxNo string      `json:"billTaxNo"`
	UserID    string      `json:"userId,omitempty"`
	Mode      ImageMode   `json:"imageMode"`
	ScanPoint string      `json:"scanPoint,omitempty"`
	Images    []ImageFile `json:"images,omitempty"`
}

// ScanTask is erpBillPush's answer.
type ScanTask struct {
	TaskNo string    `json:"taskNo"`
	Status ScanState `json:"status"`
}

// ScanQuery names the bill whose task queryBillStatus reports.
type ScanQuery struct {
	BillID    string `json:"scanBillNo"`
	Resource  string `json:"resource"`
	BillTaxNo string `json:"billTaxNo,omitempty"`
}

// ScanResult is queryBillStatus's answer.
type ScanResult struct {
	TaskNo    string     `json:"taskNo"`
	Mode      ImageMode  `json:"imageMode"`
	Status    ScanState  `json:"status"`
	Images    int        `json:"images"`
	ScannedAt string     `json:"scannedAt,omitempty"`
	Lines     []ScanLine `json:"matchResult,omitempty"` // match mode: one line per problem
}

// Done reports whether the image review has an outcome (anything but pending).
func (r ScanResult) Done() bool { return r.Status != "" && r.Status != ScanPending }

// ScanLine is one problem of a match: a bound invoice missing from the scan, scanned with
// another amount, or a scanned invoice the bill does not carry.
type ScanLine struct {
	SerialNo    string           `json:"serialNo,omitempty"`
	InvoiceCode string           `json:"invoiceCode,omitempty"`
	InvoiceNo   string           `json:"invoiceNo"`
	Expected    *decimal.Decimal `json:"expectedAmount,omitempty"`
	Scanned     *decimal.Decimal `json:"scannedAmount,omitempty"`
	Problem     string           `json:"problem"` // missing | amount | extra
}

// ValidateScanTask checks erpBillPush's request.
func ValidateScanTask(name, requestID string, r ScanTaskRequest, taxNoRequired bool) error {
	v := &validator{messageType: name}
	validateMessageID(v, "requestId", requestID)
	v.bill(r.BillID, r.Resource, r.BillNo, r.BillType)
	v.taxNo("billTaxNo", r.BillTaxNo, taxNoRequired)
	v.oneOf("mode", string(r.Mode), string(ImageBasic), string(ImageMatch), string(ImageSubmitter))
	if r.Mode == ImageSubmitter {
		if len(r.Images) == 0 {
			v.fail("images", "submitter mode uploads the images with the task: at least one is required")
		}
	} else {
		v.required("scanPoint", r.ScanPoint)
	}
	for i, img := range r.Images {
		p := fmt.Sprintf("images[%d].", i)
		v.required(p+"fileName", img.Name)
		v.oneOf(p+"fileType", strings.ToLower(img.Type), "pdf", "jpg", "jpeg", "png")
		v.base64(p+"base64", img.Base64)
	}
	return errOrNil(v)
}

// ValidateScanQuery checks queryBillStatus's request.
func ValidateScanQuery(name, requestID string, q ScanQuery) error {
	v := &validator{messageType: name}
	validateMessageID(v, "requestId", requestID)
	v.required("billId", q.BillID)
	v.resource("resource", q.Resource)
	v.taxNo("billTaxNo", q.BillTaxNo, false)
	return errOrNil(v)
}

// Call names of the image system (Error.MessageType and the Observe name), in every edition.
const (
	CallErpBillPush     = "erpBillPush"     // create the scan task
	CallQueryBillStatus = "queryBillStatus" // the task's result
)

// ScanTaskBody and ScanQueryBody are the two calls' bodies (both editions; the standard edition
// adds tin).
type ScanTaskBody struct {
	RequestID string `json:"requestId"`
	Tin       string `json:"tin,omitempty"`
	ScanTaskRequest
}

type ScanQueryBody struct {
	OperateType string    `json:"operateType"` // queryBillStatus
	RequestID   string    `json:"requestId"`
	Tin         string    `json:"tin,omitempty"`
	Data        ScanQuery `json:"data"`
}

// ScanPoint is one of the image system's scanning points (影像扫描点): the vendor's setup fetches
// the list from the image system (获取影像扫描点) and a bill's paper goes to one of them.
type ScanPoint struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ScanPointLister is an image system that lists its scanning points: operate {operateType:
// "queryScanPoints", requestId} → {scanPoints:[{id, name}]} [assumed: the vendor's screen fetches
// them, its wire call is not public]. The registry asks it when it loads an enterprise with an
// image system, which checks its scanning point and, by the call's login, its client too.
type ScanPointLister interface {
	ScanPoints(ctx context.Context, requestID string) ([]ScanPoint, error)
}

// CallQueryScanPoints names the scanning-point list call (Error.MessageType, Observe).
const CallQueryScanPoints = "queryScanPoints"

// DefaultScanPointsOperate is the scanning-point list's operateType [assumed]; each edition's
// Config.ScanPointsOperate (an enterprise's scanPointsOperate) replaces it.
const DefaultScanPointsOperate = "queryScanPoints"

// ScanPointsBody is queryScanPoints' body (both editions; the standard edition adds tin).
type ScanPointsBody struct {
	OperateType string `json:"operateType"` // queryScanPoints
	RequestID   string `json:"requestId"`
	Tin         string `json:"tin,omitempty"`
}

// ScanPointsAnswer is queryScanPoints' answer.
type ScanPointsAnswer struct {
	ScanPoints []ScanPoint `json:"scanPoints"`
}

// Rebaser is an enterprise's Settings whose client can talk, with the same credentials, to
// another address of the vendor's: the image system's own (影像系统的接口地址, e.g. the public demo
// http://kdimage-demo.piaozone.com/ or a private http://ip:port/api/). baseURL is checked by the
// caller (ValidateImageBaseURL), so the rebased client takes it as given.
type Rebaser interface {
	Rebased(baseURL string) Settings
}

// ValidateImageBaseURL checks the image system's address: an absolute http(s) URL without query or
// fragment; plain http only to this machine, or to a private address (RFC 1918, IPv6 ULA,
// link-local) when allowPlainHTTP says so — a private deployment's http://ip:port/api/. A host
// name is not taken for private: what it resolves to may change.
func ValidateImageBaseURL(baseURL string, allowPlainHTTP bool) error {
	u, err := parseBaseURL(baseURL)
	switch {
	case err != nil:
		return err
	case u.User != nil:
		return ConfigError("baseURL", "must not carry user info")
	case u.Scheme == "https" || loopbackHost(u.Hostname()):
		return nil
	case !privateHost(u.Hostname()):
		return ConfigError("baseURL", "plain http is accepted only to a private address (a private deployment's http://ip:port/api/, with allowPlainHTTP); "+u.Hostname()+" is not one: use https")
	case !allowPlainHTTP:
		return ConfigError("allowPlainHTTP", "the image system's address is plain http to a private address: say allowPlainHTTP: true to accept it, or use https")
	}
	return nil
}

// privateHost reports whether host is a private or link-local IP literal.
func privateHost(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsPrivate() || ip.IsLinkLocalUnicast())
}
