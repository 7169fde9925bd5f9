package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"rimflow/invoicecloud"
)

// A push whose bill has ended (cancelled, completed…) can never be
// recorded: answered 503 the cloud would push it again for ever. It is answered success instead
// (invoicecloud.ErrPushForNoBill) and kept where ops see it: rimflow_pushes_total{outcome="no_bill"}
// and one log line naming the push and its bill, no invoice data.

// pushDeliver is Bills.Push as the push receiver calls it; noBill is set when the push found no
// bill to take it.
func (s *server) pushDeliver(taxNo string, noBill *bool) func(context.Context, invoicecloud.Push) error {
	return func(ctx context.Context, p invoicecloud.Push) error {
		err := s.bills.Push(ctx, p)
		why := pushWithoutBill(err)
		if why == "" {
			return err
		}
		*noBill = true
		s.log.LogAttrs(ctx, slog.LevelWarn, "push for no running bill: answered success so the cloud stops pushing it",
			slog.String("enterprise", taxNo), slog.String("msgId", p.MsgID), slog.String("bill", BillRef{Resource: p.Resource, BillID: p.BillID}.ID()),
			slog.String("why", why), slog.Int("invoices", len(p.Message.InvoiceData)))
		return fmt.Errorf("%s: %w", why, invoicecloud.ErrPushForNoBill)
	}
}

// pushWithoutBill says why Bills.Push's error means no bill can ever take the push ("" when it
// may later: Temporal not answering).
func pushWithoutBill(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return ""
	}
	switch {
	case e.Status == http.StatusConflict && e.SubCode == SubFinished:
		return "the bill has ended"
	case e.Status == http.StatusNotFound:
		return "no such bill"
	case e.Status == http.StatusBadRequest:
		return "the push names no bill"
	}
	return ""
}
