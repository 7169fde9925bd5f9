package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"rimflow/activities/calls"
	"rimflow/invoicecloud"
)

// Image review (影像; docs/invoicecloud.md, "The standard edition's guide": 影像系统操作手册). Where the bill's enterprise has the vendor's image system
// (Options.ScanPoint), the bill creates the scan task there and waits for its outcome:
//   - basic: the scanning post scans the paper; the images are stored, and the bill goes on.
//   - match: the scan is matched against the bound invoices; a mismatch returns the bill to
//     collecting, and the next round scans again.
//   - submitter: no scanning post; the submitter's uploads go with the task when the bill is
//     submitted, and there is no image_review stage.
// Without an image system, the ERP reports the scan (the images update); it may also do so while
// the image system's task is pending (an ERP that owns its image system decides).

// imageReview waits for the scan; match mode compares it with the bound invoices.
func (b *bill) imageReview(ctx workflow.Context) (Stage, error) {
	b.enter(ctx, StageImageReview, "")
	stop := func() {}
	defer func() { stop() }()
	if b.in.Options.usesImageSystem() {
		if b.View.Scan == nil || b.View.Scan.Round != b.Round {
			if err := b.runOrPark(ctx, "createScanTask", nil, b.createScanTask); err != nil {
				return "", err
			}
		}
		stop = b.awaitScan(ctx)
	}
	for {
		ev, err := b.wait(ctx)
		if err != nil {
			return "", err
		}
		switch {
		case ev.kind == evScanned && ev.epoch == b.scanGen:
			if ev.scanErr != nil {
				// The image system refused for good (credentials, an unknown task): ops decide.
				retry, err := b.park(ctx, "awaitScan", nil, ev.scanErr)
				if err != nil {
					return "", err
				}
				stop = b.awaitScan(ctx)
				b.reply(retry, nil)
				continue
			}
			return b.scanned(ctx, *ev.scan)
		case ev.kind == evImages:
			stop()
			return b.reported(ctx, ev)
		default:
			if next, done, err := b.common(ctx, ev); done || err != nil {
				return next, err
			}
		}
	}
}

// createScanTask pushes the bill to the image system (erpBillPush). In submitter mode the uploads
// travel with it and the task is done at once.
func (b *bill) createScanTask(ctx workflow.Context) error {
	req := b.in.scanRequest()
	if b.in.Options.ImageMode == ImageSubmitter {
		req.ScanPoint, req.Images = "", b.Uploads
	}
	task, err := call(cloudCallOptions(ctx), acts.CreateScanTask, calls.ScanTaskInput{RequestID: b.msgID("createScanTask"), Request: req})
	if err != nil {
		return err
	}
	now := workflow.Now(ctx).UTC()
	b.View.Scan = &ScanView{TaskNo: task.TaskNo, Round: b.Round, Mode: b.in.Options.ImageMode, ScanPoint: req.ScanPoint,
		Status: string(task.Status), Images: len(req.Images), CreatedAt: now}
	if task.Status != invoicecloud.ScanPending {
		b.View.Scan.DoneAt = &now
	}
	where := "scanning point " + req.ScanPoint
	if req.ScanPoint == "" {
		where = fmt.Sprintf("%d image(s) uploaded by the submitter", len(req.Images))
	}
	b.note(b.View.Stage, fmt.Sprintf("scan task %s created in the image system (%s mode, %s)", task.TaskNo, b.in.Options.ImageMode, where))
	b.Uploads = nil // with the image system now
	return nil
}

// awaitScan asks the image system for the task's outcome in a coroutine, retrying while it is
// pending (at most ScanPollEvery apart), and queues it as an evScanned event. stop cancels it.
func (b *bill) awaitScan(ctx workflow.Context) (stop func()) {
	b.scanGen++
	gen := b.scanGen
	every := time.Duration(b.in.Options.ScanPollEvery)
	if every <= 0 {
		every = time.Duration(DefaultScanPollEvery)
	}
	sctx, cancel := workflow.WithCancel(ctx)
	q := calls.ScanQueryInput{RequestID: b.msgID("awaitScan"),
		Query: invoicecloud.ScanQuery{BillID: b.in.BillID, Resource: b.in.Resource, BillTaxNo: b.in.BillTaxNo}}
	workflow.Go(sctx, func(gctx workflow.Context) {
		opts := workflow.WithActivityOptions(gctx, workflow.ActivityOptions{
			StartToCloseTimeout: ActivityStartToClose,
			// No overall limit: a paper scan may take days (the stage's SLA tells ops).
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: min(5*time.Second, every), BackoffCoefficient: 2, MaximumInterval: every},
		})
		res, err := call(opts, acts.AwaitScan, q)
		if gctx.Err() != nil {
			return // the stage moved on
		}
		b.inbox.push(&event{kind: evScanned, epoch: gen, scan: &res, scanErr: err})
	})
	return cancel
}

// scanned applies the image system's outcome: stored or matched goes on, a mismatch returns the bill.
func (b *bill) scanned(ctx workflow.Context, res invoicecloud.ScanResult) (Stage, error) {
	now := workflow.Now(ctx).UTC()
	if b.View.Scan == nil || b.View.Scan.TaskNo != res.TaskNo && res.TaskNo != "" {
		b.View.Scan = &ScanView{TaskNo: res.TaskNo, Round: b.Round, Mode: string(res.Mode), ScanPoint: b.in.Options.ScanPoint, CreatedAt: now}
	}
	sv := b.View.Scan
	sv.Status, sv.Images, sv.DoneAt, sv.Problems = string(res.Status), res.Images, &now, nil
	for _, l := range res.Lines {
		sv.Problems = append(sv.Problems, describeScanLine(l))
	}
	b.publish()
	if res.Status == invoicecloud.ScanMismatch {
		return b.backToCollecting(fmt.Sprintf("image mismatch (scan task %s): %s: returned to collecting", res.TaskNo, strings.Join(sv.Problems, "; "))), nil
	}
	b.note(b.View.Stage, fmt.Sprintf("scan task %s %s (%d image(s))", res.TaskNo, res.Status, res.Images))
	return b.advance(ctx, nil)
}

// reported applies the ERP's images update (its own image system, or the scanning station).
func (b *bill) reported(ctx workflow.Context, ev *event) (Stage, error) {
	img := *ev.images
	img.Uploads = nil
	b.View.Images = &img
	if b.in.Options.ImageMode == ImageMatch {
		if diff := matchImages(b.Invoices, img); diff != "" {
			b.reply(ev, nil)
			return b.backToCollecting("image mismatch (scan " + img.ScanBillNo + "): " + diff + ": returned to collecting"), nil
		}
		b.note(b.View.Stage, fmt.Sprintf("scan %s matches the %d bound invoice(s)", img.ScanBillNo, len(b.Invoices)))
	} else {
		b.note(b.View.Stage, fmt.Sprintf("scan %s received (%d file(s))", img.ScanBillNo, len(img.Files)))
	}
	return b.advance(ctx, ev)
}

// takeUploads keeps the submitter's images (submitter mode, while collecting) for the scan task
// created at submit.
func (b *bill) takeUploads(ev *event) {
	img := *ev.images
	b.Uploads = img.Uploads
	img.Uploads = nil
	b.View.Images = &img
	names := make([]string, 0, len(b.Uploads))
	for _, u := range b.Uploads {
		names = append(names, u.Name)
	}
	b.note(StageCollecting, fmt.Sprintf("submitter's images received (%d file(s)%s)", max(len(b.Uploads), len(img.Files)), listSuffix(names)))
	b.reply(ev, nil)
}

func listSuffix(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ": " + strings.Join(names, ", ")
}

// imagesReady: a submitter-mode bill with the image system has images to send (or a task already).
func (b *bill) imagesReady() bool {
	if b.in.Options.ImageMode != ImageSubmitter || !b.in.Options.usesImageSystem() {
		return true
	}
	return len(b.Uploads) > 0 || b.View.Scan != nil
}

// submitterTask is due when a submitter-mode bill with the image system leaves collecting.
func (b *bill) submitterTaskDue() bool {
	return b.in.Options.ImageMode == ImageSubmitter && b.in.Options.usesImageSystem() && len(b.Uploads) > 0
}
