package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"rimflow/invoicecloud/aesecb"
)

// The image system's push address (推送地址: the vendor's push table gives the image system's
// login address [assumed: the push is POSTed to its base URL]): POST {ImageSystemPrefix}/ takes a
// push in the cloud's scheme (push.go), from the cloud itself (a tenant's PushTarget there: the
// direct topology) or relayed by rimflow. A tenant with ImageFromPushes matches a bill's scan with
// the invoices pushed here for it, so its match mode works only if the pushes reach the image
// system. Fault kind "imagePush" makes it refuse.

// ImagePushFault is the Faults.MessageTypes kind that makes the image system refuse pushes.
const ImagePushFault = "imagePush"

// ImagePushView is one push the image system received (GET /__sim/imagepushes).
type ImagePushView struct {
	MsgID     string   `json:"msgId"`
	TaxNo     string   `json:"taxNo"`
	Resource  string   `json:"resource"`
	BillID    string   `json:"billId"`
	SerialNos []string `json:"serialNos"`
	Repeats   int      `json:"repeats"` // the same msgId received again (dropped)
}

// pushedInvoice is an invoice the image system received for a bill.
type pushedInvoice struct {
	SerialNo    string          `json:"serialNo"`
	InvoiceCode string          `json:"invoiceCode"`
	InvoiceNo   string          `json:"invoiceNo"`
	TotalAmount decimal.Decimal `json:"totalAmount"`
}

// handleImagePush serves POST {ImageSystemPrefix}/.
func (s *Sim) handleImagePush(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 32<<20))
	answer := func(status int, code, msg string) {
		writeJSON(w, status, map[string]string{"errcode": code, "description": msg})
	}
	if err != nil {
		answer(http.StatusBadRequest, "1001", "body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if status, _ := s.faultFor(ImagePushFault); status != 0 {
		answer(status, "5000", "injected fault")
		return
	}
	var env struct {
		MsgID    string `json:"msgId"`
		ClientID string `json:"client_id"`
		Tin      string `json:"tin"`
		BxdKey   string `json:"bxd_key"`
		Resource string `json:"resource"`
		Data     struct {
			Data []pushedInvoice `json:"data"`
		} `json:"data"`
	}
	var from *tenantState
	for _, t := range s.tenants.all {
		if len(t.EncryptKey) != aesecb.KeyLen {
			continue
		}
		plain, err := aesecb.Decrypt(t.EncryptKey, strings.TrimSpace(string(body)))
		if err == nil && json.Unmarshal(plain, &env) == nil && strings.EqualFold(env.Tin, t.TaxNo) && env.ClientID == t.ClientID {
			from = t
			break
		}
	}
	if from == nil {
		answer(http.StatusUnauthorized, "1102", "the push does not decrypt with any enterprise's encrypt_key, or names another enterprise")
		return
	}
	if env.MsgID == "" || env.BxdKey == "" || env.Resource == "" {
		answer(http.StatusBadRequest, "1001", "msgId, bxd_key and resource are required")
		return
	}
	s.stats.ImagePushesReceived++
	if i := slices.IndexFunc(s.images.pushes, func(p ImagePushView) bool { return p.MsgID == env.MsgID }); i >= 0 {
		s.images.pushes[i].Repeats++
		answer(http.StatusOK, "0000", "成功")
		return
	}
	key := billKey{Resource: env.Resource, BillID: env.BxdKey}
	v := ImagePushView{MsgID: env.MsgID, TaxNo: from.TaxNo, Resource: key.Resource, BillID: key.BillID, SerialNos: []string{}}
	for _, inv := range env.Data.Data {
		v.SerialNos = append(v.SerialNos, inv.SerialNo)
		if !slices.ContainsFunc(s.images.pushed[key], func(p pushedInvoice) bool { return p.SerialNo == inv.SerialNo }) {
			s.images.pushed[key] = append(s.images.pushed[key], inv)
		}
	}
	s.images.pushes = append(s.images.pushes, v)
	answer(http.StatusOK, "0000", "成功")
}

// ImagePushes lists the pushes the image system received, in the order received.
func (s *Sim) ImagePushes() []ImagePushView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ImagePushView, len(s.images.pushes))
	for i, p := range s.images.pushes {
		p.SerialNos = slices.Clone(p.SerialNos)
		out[i] = p
	}
	return out
}

func (s *Sim) simImagePushes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"pushes": s.ImagePushes()})
}
