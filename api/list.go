package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/shopspring/decimal"

	"rimflow/workflows"
)

// ListFilter selects bills by their typed search attributes; empty fields do not filter.
type ListFilter struct {
	Stage        string
	TaxNo        string
	Overdue      *bool
	AwaitingRole string
	BillNo       string
	Resource     string
	// Resources, when set, narrows the list to these resources (a client limited to them).
	Resources []string
	PageSize  int
	PageToken string
}

// ListItem is one bill as visibility knows it.
type ListItem struct {
	ID           string          `json:"id"`
	WorkflowID   string          `json:"workflowId"`
	Stage        workflows.Stage `json:"stage"`
	BillNo       string          `json:"billNo"`
	TaxNo        string          `json:"taxNo"`
	Overdue      bool            `json:"overdue"`
	InvoiceCount int64           `json:"invoiceCount"`
	// TotalAmount comes from the TotalAmount Double search attribute, rounded to fen; the exact
	// decimal is in the bill's state.
	TotalAmount string    `json:"totalAmount"`
	StartedAt   time.Time `json:"startedAt"`
}

// ListResponse answers GET /v1/bills.
type ListResponse struct {
	Bills         []ListItem `json:"bills"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

var (
	knownStages = map[workflows.Stage]bool{
		workflows.StageCollecting: true, workflows.StageAwaitingSupervisor: true,
		workflows.StageImageReview: true, workflows.StageAwaitingFinance: true,
		workflows.StageAwaitingVoucher: true, workflows.StageDeducting: true,
		workflows.StageCompleted: true, workflows.StageRejected: true,
		workflows.StageCancelled: true, workflows.StageFailed: true,
	}
	// Any approval role has its awaiting_<role> stage.
	awaitingStage = regexp.MustCompile(`^awaiting_[a-z0-9_]{1,40}$`)
	roleName      = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)
)

// ParseListFilter reads the query string of GET /v1/bills, naming every bad parameter.
func ParseListFilter(q url.Values) (ListFilter, *Error) {
	f := ListFilter{
		Stage:        q.Get("stage"),
		TaxNo:        q.Get("taxNo"),
		AwaitingRole: q.Get("awaitingRole"),
		BillNo:       q.Get("billNo"),
		Resource:     q.Get("resource"),
		PageToken:    q.Get("pageToken"),
	}
	fields := map[string]string{}
	if s := q.Get("overdue"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			fields["overdue"] = "must be true or false"
		} else {
			f.Overdue = &v
		}
	}
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			fields["pageSize"] = fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize)
		} else {
			f.PageSize = n
		}
	}
	for k, v := range f.check() {
		fields[k] = v
	}
	if len(fields) > 0 {
		return ListFilter{}, ValidationFailed(fields)
	}
	return f, nil
}

func (f ListFilter) check() map[string]string {
	fields := map[string]string{}
	if f.Stage != "" && !knownStages[workflows.Stage(f.Stage)] && !awaitingStage.MatchString(f.Stage) {
		fields["stage"] = "unknown stage: use collecting, awaiting_<role>, image_review, awaiting_voucher, " +
			"deducting, completed, rejected, cancelled or failed"
	}
	if f.AwaitingRole != "" && !roleName.MatchString(f.AwaitingRole) {
		fields["awaitingRole"] = "must be a role name (lower-case letters, digits, _)"
	}
	for name, v := range map[string]string{"taxNo": f.TaxNo, "billNo": f.BillNo, "resource": f.Resource} {
		if len(v) > 200 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			fields[name] = "must be at most 200 printable characters"
		}
	}
	if f.PageToken != "" {
		if _, err := base64.RawURLEncoding.DecodeString(f.PageToken); err != nil {
			fields["pageToken"] = "not a token this API issued"
		}
	}
	return fields
}

// Query is the visibility query the filter stands for. Values are quoted and escaped, so a
// filter value can never change the query's shape.
func (f ListFilter) Query() string {
	clauses := []string{fmt.Sprintf("WorkflowType = %s", quote(workflows.BillWorkflowName))}
	add := func(attr, v string) {
		if v != "" {
			clauses = append(clauses, fmt.Sprintf("%s = %s", attr, quote(v)))
		}
	}
	add(workflows.SABillStage.GetName(), f.Stage)
	add(workflows.SABillTaxNo.GetName(), f.TaxNo)
	add(workflows.SAAwaitingRole.GetName(), f.AwaitingRole)
	add(workflows.SABillNo.GetName(), f.BillNo)
	add(workflows.SABillResource.GetName(), f.Resource)
	if len(f.Resources) > 0 {
		quoted := make([]string, len(f.Resources))
		for i, r := range f.Resources {
			quoted[i] = quote(r)
		}
		clauses = append(clauses, fmt.Sprintf("%s IN (%s)", workflows.SABillResource.GetName(), strings.Join(quoted, ", ")))
	}
	if f.Overdue != nil {
		clauses = append(clauses, fmt.Sprintf("%s = %t", workflows.SAOverdue.GetName(), *f.Overdue))
	}
	return strings.Join(clauses, " AND ")
}

// quote makes a visibility string literal: single quotes, with backslash and quote escaped.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// List runs the filter against Temporal visibility.
func (b *Bills) List(ctx context.Context, f ListFilter) (ListResponse, error) {
	if fields := f.check(); len(fields) > 0 {
		return ListResponse{}, ValidationFailed(fields)
	}
	size := f.PageSize
	if size == 0 {
		size = defaultPageSize
	}
	token, _ := base64.RawURLEncoding.DecodeString(f.PageToken)
	resp, err := b.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace:     b.Namespace,
		PageSize:      int32(size),
		NextPageToken: token,
		Query:         f.Query(),
	})
	if err != nil {
		return ListResponse{}, err
	}
	out := ListResponse{Bills: make([]ListItem, 0, len(resp.GetExecutions()))}
	for _, ex := range resp.GetExecutions() {
		out.Bills = append(out.Bills, listItem(ex.GetExecution().GetWorkflowId(), ex.GetStartTime().AsTime(),
			ex.GetSearchAttributes().GetIndexedFields()))
	}
	if next := resp.GetNextPageToken(); len(next) > 0 {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString(next)
	}
	return out, nil
}

func listItem(workflowID string, started time.Time, sa map[string]*commonpb.Payload) ListItem {
	dc := converter.GetDefaultDataConverter()
	str := func(name string) string {
		var s string
		if p := sa[name]; p != nil {
			_ = dc.FromPayload(p, &s)
		}
		return s
	}
	item := ListItem{
		WorkflowID: workflowID,
		Stage:      workflows.Stage(str(workflows.SABillStage.GetName())),
		BillNo:     str(workflows.SABillNo.GetName()),
		TaxNo:      str(workflows.SABillTaxNo.GetName()),
		StartedAt:  started.UTC(),
	}
	if p := sa[workflows.SAOverdue.GetName()]; p != nil {
		_ = dc.FromPayload(p, &item.Overdue)
	}
	if p := sa[workflows.SAInvoiceCount.GetName()]; p != nil {
		_ = dc.FromPayload(p, &item.InvoiceCount)
	}
	item.TotalAmount = "0.00"
	if p := sa[workflows.SATotalAmount.GetName()]; p != nil {
		var f float64
		if dc.FromPayload(p, &f) == nil {
			item.TotalAmount = decimal.NewFromFloat(f).StringFixed(2)
		}
	}
	resource := str(workflows.SABillResource.GetName())
	if billID, ok := strings.CutPrefix(workflowID, "bill:"+resource+":"); ok && resource != "" {
		item.ID = resource + "/" + billID
	} else if rest, ok := strings.CutPrefix(workflowID, "bill:"); ok {
		r, b, _ := strings.Cut(rest, ":")
		item.ID = r + "/" + b
	}
	return item
}
