package invoicecloud_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
)

// The image system on both editions: the ERP creates the scan task, the simulator's scanning
// post (/__sim/scan) scans, the ERP reads the result.

func (b testBill) scanTask(mode invoicecloud.ImageMode) invoicecloud.ScanTaskRequest {
	r := invoicecloud.ScanTaskRequest{BillID: b.req.BillID, Resource: b.req.Resource, BillNo: b.req.BillNo,
		BillType: b.req.BillType, BillTaxNo: b.req.BillTaxNo, UserID: b.req.UserID, Mode: mode}
	if mode == invoicecloud.ImageSubmitter {
		r.Images = []invoicecloud.ImageFile{{Name: "发票1.pdf", Type: "pdf", Base64: base64.StdEncoding.EncodeToString([]byte("%PDF-1.4"))}}
	} else {
		r.ScanPoint = simulator.DefaultScanPoint.ID
	}
	return r
}

func (b testBill) scanQuery() invoicecloud.ScanQuery {
	return invoicecloud.ScanQuery{BillID: b.req.BillID, Resource: b.req.Resource, BillTaxNo: b.req.BillTaxNo}
}

// scan plays the scanning post on the bill's task.
func (h *harness) scan(b testBill, body map[string]any) simulator.ScanTaskView {
	h.t.Helper()
	body["resource"], body["billId"] = b.req.Resource, b.req.BillID
	var v simulator.ScanTaskView
	if code := h.simJSON(http.MethodPost, "/__sim/scan", body, &v); code != http.StatusOK {
		h.t.Fatalf("scan: HTTP %d", code)
	}
	return v
}

func TestContractImageSystem(t *testing.T) {
	eachEdition(t, simulator.Options{Seed: 40}, func(t *testing.T, h *harness, ed edition) {
		c := ed.client(h)
		ctx := context.Background()
		bound := func() (testBill, []invoicecloud.Invoice) {
			b := newBill("poll")
			invs := h.collect(eventCode(t, c, b), 2)
			if err := c.BillSave(ctx, b.msgID("save"), b.saveRequest(invoicecloud.StatusInUse, invs)); err != nil {
				t.Fatal(err)
			}
			return b, invs
		}

		t.Run("match", func(t *testing.T) {
			b, _ := bound()
			task, err := c.CreateScanTask(ctx, b.msgID("scan"), b.scanTask(invoicecloud.ImageMatch))
			if err != nil || task.TaskNo == "" || task.Status != invoicecloud.ScanPending {
				t.Fatalf("CreateScanTask: %+v %v", task, err)
			}
			res, err := c.ScanResult(ctx, b.msgID("q1"), b.scanQuery())
			if err != nil || res.Done() || res.TaskNo != task.TaskNo {
				t.Fatalf("before scanning: %+v %v", res, err)
			}
			h.scan(b, map[string]any{"asBound": true})
			res, err = c.ScanResult(ctx, b.msgID("q2"), b.scanQuery())
			if err != nil || res.Status != invoicecloud.ScanMatched || len(res.Lines) != 0 || res.Images != 2 || res.Mode != invoicecloud.ImageMatch {
				t.Fatalf("after a perfect scan: %+v %v", res, err)
			}
		})
		t.Run("mismatch", func(t *testing.T) {
			b, invs := bound()
			if _, err := c.CreateScanTask(ctx, b.msgID("scan"), b.scanTask(invoicecloud.ImageMatch)); err != nil {
				t.Fatal(err)
			}
			h.scan(b, map[string]any{"mismatch": true})
			res, err := c.ScanResult(ctx, b.msgID("q"), b.scanQuery())
			if err != nil || res.Status != invoicecloud.ScanMismatch || len(res.Lines) != 1 {
				t.Fatalf("after a mismatching scan: %+v %v", res, err)
			}
			l := res.Lines[0]
			if l.Problem != "amount" || l.SerialNo != invs[0].SerialNo || l.Expected == nil || l.Scanned == nil ||
				!l.Scanned.Sub(*l.Expected).Equal(*dec("1")) {
				t.Fatalf("mismatch line: %+v", l)
			}
		})
		t.Run("basic", func(t *testing.T) {
			b, _ := bound()
			if _, err := c.CreateScanTask(ctx, b.msgID("scan"), b.scanTask(invoicecloud.ImageBasic)); err != nil {
				t.Fatal(err)
			}
			h.scan(b, map[string]any{"images": 5})
			res, err := c.ScanResult(ctx, b.msgID("q"), b.scanQuery())
			if err != nil || res.Status != invoicecloud.ScanStored || res.Images != 5 || !res.Done() {
				t.Fatalf("basic mode after scanning: %+v %v", res, err)
			}
		})
		t.Run("submitter", func(t *testing.T) {
			b, _ := bound()
			task, err := c.CreateScanTask(ctx, b.msgID("scan"), b.scanTask(invoicecloud.ImageSubmitter))
			if err != nil || task.Status != invoicecloud.ScanStored {
				t.Fatalf("submitter mode is done at once: %+v %v", task, err)
			}
			res, err := c.ScanResult(ctx, b.msgID("q"), b.scanQuery())
			if err != nil || res.Status != invoicecloud.ScanStored || res.Images != 1 {
				t.Fatalf("submitter result: %+v %v", res, err)
			}
		})
		t.Run("refusals", func(t *testing.T) {
			b, _ := bound()
			r := b.scanTask(invoicecloud.ImageMatch)
			r.ScanPoint = ""
			_, err := c.CreateScanTask(ctx, "x", r)
			if e := mustError(t, err); e.Field != "scanPoint" || e.Retryable {
				t.Fatalf("no scanning point: %+v", e)
			}
			r.ScanPoint = "NO-SUCH-POINT"
			_, err = c.CreateScanTask(ctx, "x", r)
			if e := mustError(t, err); e.Field != "scanPoint" || e.Retryable || e.Code == "" {
				t.Fatalf("an unknown scanning point: %+v", e)
			}
			_, err = c.ScanResult(ctx, "q", newBill("poll").scanQuery())
			if e := mustError(t, err); e.Code != ed.code["billNotFound"] || e.Retryable {
				t.Fatalf("a bill without a task: %+v", e)
			}
		})
	})
}
