package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/shopspring/decimal"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// ListFilter selects bills by their typed search attributes; empty fields do not filter.
type ListFilter struct {
	Stage        string
	TaxNo        string
	Overdue      *bool
	AwaitingRole string
	BillNo       string
	// BillNoPrefix: bills whose billNo starts with it (BillNo STARTS_WITH).
	BillNoPrefix string
	// UserID, BillType: the bill's user and type (BillTags entries).
	UserID   string
	BillType string
	Resource string
	// Resources, when set, narrows the list to these resources (a client limited to them).
	Resources    []string
	UpdatedSince *time.Time // BillUpdatedAt >= this
	Sort         string     // one of sortOrders; "" = visibility's own order
	PageSize     int
	PageToken    string
}

// ListItem is one bill as visibility knows it.
type ListItem struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflowId"`
	Resource   string `json:"resource"`
	BillID     string `json:"billId"`
	// UserID and BillType come from BillTags: absent for a bill whose run began before that
	// search attribute (it shows them from its next run on).
	UserID       string          `json:"userId,omitempty"`
	BillType     string          `json:"billType,omitempty"`
	Stage        workflows.Stage `json:"stage"`
	AwaitingRole string          `json:"awaitingRole,omitempty"`
	BillNo       string          `json:"billNo"`
	TaxNo        string          `json:"taxNo"`
	Overdue      bool            `json:"overdue"`
	InvoiceCount int64           `json:"invoiceCount"`
	// TotalAmount comes from the TotalAmount Double search attribute, rounded to fen; the exact
	// decimal is in the bill's state.
	TotalAmount string    `json:"totalAmount"`
	StartedAt   time.Time `json:"startedAt"`
	// UpdatedAt is the bill's last change (BillUpdatedAt); for a bill that predates it, when it
	// ended, else when it started.
	UpdatedAt time.Time `json:"updatedAt"`
}

// sortOrders are the orders the list can be sorted in: a field, "-" for descending.
var sortOrders = []string{"updatedAt", "-updatedAt", "startedAt", "-startedAt"}

// MaxSortedBills bounds a sorted list: SQL visibility cannot sort, so the API reads every match
// and sorts them itself; past this many matches the caller narrows the filter (updatedSince).
const MaxSortedBills = 5000

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
		TaxNo:        invoicecloud.NormalizeTaxNo(q.Get("taxNo")), // stored upper-cased, as start normalises it
		AwaitingRole: q.Get("awaitingRole"),
		BillNo:       q.Get("billNo"),
		BillNoPrefix: q.Get("billNoPrefix"),
		UserID:       q.Get("userId"),
		BillType:     q.Get("billType"),
		Resource:     q.Get("resource"),
		Sort:         q.Get("sort"),
		PageToken:    q.Get("pageToken"),
	}
	fields := map[string]string{}
	for name, vs := range q {
		if len(vs) > 1 {
			fields[name] = "given more than once"
		}
	}
	if s := q.Get("updatedSince"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			fields["updatedSince"] = "must be an RFC 3339 instant, e.g. 2026-11-30T08:00:00Z"
		} else {
			t = t.UTC()
			f.UpdatedSince = &t
		}
	}
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
	for name, v := range map[string]string{"taxNo": f.TaxNo, "billNo": f.BillNo, "resource": f.Resource,
		"billNoPrefix": f.BillNoPrefix, "userId": f.UserID, "billType": f.BillType} {
		if len(v) > 200 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			fields[name] = "must be at most 200 printable characters"
		}
	}
	if f.Sort != "" && !slices.Contains(sortOrders, f.Sort) {
		fields["sort"] = "must be one of " + strings.Join(sortOrders, ", ")
	}
	if f.PageToken != "" {
		if _, err := f.openToken(); err != nil {
			fields["pageToken"] = err.Error()
		}
	}
	return fields
}

// pageToken is what nextPageToken carries: the filter it belongs to (a digest), and either
// visibility's own token or, for a sorted list, the offset of the next page. It is checksummed so
// a damaged or foreign token is refused (400) before anything reaches Temporal.
type pageToken struct {
	Filter string `json:"f"`
	Next   []byte `json:"n,omitempty"`
	Offset int    `json:"o,omitempty"`
}

// filterDigest names the filter a token belongs to (the query and the order, not the page size).
func (f ListFilter) filterDigest() string {
	sum := sha256.Sum256([]byte(f.Query() + "\n" + f.Sort))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func (f ListFilter) issueToken(t pageToken) string {
	t.Filter = f.filterDigest()
	body, _ := json.Marshal(t)
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(append(sum[:8], body...))
}

func (f ListFilter) openToken() (pageToken, error) {
	raw, err := base64.RawURLEncoding.DecodeString(f.PageToken)
	if err != nil || len(raw) < 9 {
		return pageToken{}, errors.New("not a token this API issued")
	}
	sum := sha256.Sum256(raw[8:])
	var t pageToken
	if !bytes.Equal(sum[:8], raw[:8]) || json.Unmarshal(raw[8:], &t) != nil {
		return pageToken{}, errors.New("not a token this API issued")
	}
	if t.Filter != f.filterDigest() {
		return pageToken{}, errors.New("issued for other filters or another sort: send the same filters as the first page")
	}
	return t, nil
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
	if f.TaxNo != "" {
		// The bill's own tax number, or any of its companies' (BillTags; bills whose run began
		// before BillTags match by BillTaxNo only).
		clauses = append(clauses, fmt.Sprintf("(%s = %s OR %s = %s)", workflows.SABillTaxNo.GetName(), quote(f.TaxNo),
			workflows.SABillTags.GetName(), quote(workflows.TagTaxNo+f.TaxNo)))
	}
	add(workflows.SAAwaitingRole.GetName(), f.AwaitingRole)
	add(workflows.SABillNo.GetName(), f.BillNo)
	if f.BillNoPrefix != "" {
		clauses = append(clauses, fmt.Sprintf("%s STARTS_WITH %s", workflows.SABillNo.GetName(), quote(f.BillNoPrefix)))
	}
	if f.UserID != "" {
		add(workflows.SABillTags.GetName(), workflows.TagUserID+f.UserID)
	}
	if f.BillType != "" {
		add(workflows.SABillTags.GetName(), workflows.TagBillType+f.BillType)
	}
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
	if f.UpdatedSince != nil {
		// At or after, at the API's precision: the instant is cut to the millisecond, as every
		// timestamp the API prints is (TimePrecision), so a sync job that sends back the last
		// updatedAt it read gets that bill again rather than skipping the bills of that millisecond.
		since := f.UpdatedSince.UTC().Truncate(TimePrecision)
		clauses = append(clauses, fmt.Sprintf("%s >= %s", workflows.SABillUpdatedAt.GetName(), quote(since.Format(time.RFC3339Nano))))
	}
	return strings.Join(clauses, " AND ")
}

// quote makes a visibility string literal: single quotes, with backslash and quote escaped.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// List runs the filter against Temporal visibility. A sorted list is read whole (at most
// MaxSortedBills) and sorted here, since SQL visibility has no ORDER BY; its pages are offsets.
func (b *Bills) List(ctx context.Context, f ListFilter) (ListResponse, error) {
	if fields := f.check(); len(fields) > 0 {
		return ListResponse{}, ValidationFailed(fields)
	}
	size := f.PageSize
	if size == 0 {
		size = defaultPageSize
	}
	var tok pageToken
	if f.PageToken != "" {
		tok, _ = f.openToken() // checked above
	}
	if f.Sort != "" {
		return b.sortedPage(ctx, f, size, tok.Offset)
	}
	items, next, err := b.listPage(ctx, f.Query(), size, tok.Next)
	if err != nil {
		return ListResponse{}, err
	}
	out := ListResponse{Bills: items}
	if len(next) > 0 {
		out.NextPageToken = f.issueToken(pageToken{Next: next})
	}
	return out, nil
}

func (b *Bills) listPage(ctx context.Context, query string, size int, token []byte) ([]ListItem, []byte, error) {
	resp, err := b.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace:     b.Namespace,
		PageSize:      int32(size),
		NextPageToken: token,
		Query:         query,
	})
	if err != nil {
		return nil, nil, err
	}
	items := make([]ListItem, 0, len(resp.GetExecutions()))
	for _, ex := range resp.GetExecutions() {
		item := listItem(ex.GetExecution().GetWorkflowId(), ex.GetStartTime().AsTime(),
			ex.GetSearchAttributes().GetIndexedFields())
		if item.UpdatedAt.IsZero() {
			item.UpdatedAt = item.StartedAt
			if ct := ex.GetCloseTime(); ct != nil && ct.IsValid() && ct.AsTime().Unix() > 0 {
				item.UpdatedAt = ct.AsTime().UTC()
			}
		}
		items = append(items, item)
	}
	return items, resp.GetNextPageToken(), nil
}

// sortedPage reads every match, sorts them by f.Sort (the workflow ID breaks ties) and answers
// the page at offset.
func (b *Bills) sortedPage(ctx context.Context, f ListFilter, size, offset int) (ListResponse, error) {
	var all []ListItem
	var next []byte
	for {
		items, n, err := b.listPage(ctx, f.Query(), maxPageSize, next)
		if err != nil {
			return ListResponse{}, err
		}
		all = append(all, items...)
		if len(all) > MaxSortedBills {
			return ListResponse{}, ValidationFailed(map[string]string{"sort": fmt.Sprintf(
				"more than %d bills match: narrow the filter (updatedSince, stage, resource…) to sort them", MaxSortedBills)})
		}
		if len(n) == 0 {
			break
		}
		next = n
	}
	field, desc := strings.TrimPrefix(f.Sort, "-"), strings.HasPrefix(f.Sort, "-")
	key := func(it ListItem) time.Time {
		if field == "startedAt" {
			return it.StartedAt
		}
		return it.UpdatedAt
	}
	slices.SortStableFunc(all, func(x, y ListItem) int {
		c := key(x).Compare(key(y))
		if c == 0 {
			c = strings.Compare(x.WorkflowID, y.WorkflowID)
		}
		if desc {
			return -c
		}
		return c
	})
	out := ListResponse{Bills: []ListItem{}}
	if offset < len(all) {
		end := min(offset+size, len(all))
		out.Bills = all[offset:end]
		if end < len(all) {
			out.NextPageToken = f.issueToken(pageToken{Offset: end})
		}
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
		WorkflowID:   workflowID,
		Stage:        workflows.Stage(str(workflows.SABillStage.GetName())),
		AwaitingRole: str(workflows.SAAwaitingRole.GetName()),
		BillNo:       str(workflows.SABillNo.GetName()),
		TaxNo:        str(workflows.SABillTaxNo.GetName()),
		StartedAt:    started.UTC(),
	}
	if p := sa[workflows.SABillUpdatedAt.GetName()]; p != nil {
		var t time.Time
		if dc.FromPayload(p, &t) == nil {
			item.UpdatedAt = t.UTC()
		}
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
	if resource, billID, ok := workflows.ParseBillWorkflowID(workflowID); ok {
		item.ID, item.Resource, item.BillID = resource+"/"+billID, resource, billID
	}
	if p := sa[workflows.SABillTags.GetName()]; p != nil {
		var tags []string
		if dc.FromPayload(p, &tags) == nil {
			for _, tag := range tags {
				if v, ok := strings.CutPrefix(tag, workflows.TagUserID); ok {
					item.UserID = v
				} else if v, ok := strings.CutPrefix(tag, workflows.TagBillType); ok {
					item.BillType = v
				}
			}
		}
	}
	return item
}
