package simulator

import (
	"net/http"
	"net/url"
	"strings"
)

// The standard edition's pages: /m4-web/fpzs/index?userKey&linkKey&sourceType (collect) and the
// [assumed] view page ?userKey, each with &client=mobile for the mobile variant [assumed]. A
// userKey is a page code like an eventCode, so these pages sign the user on (check the userKey,
// its life and — collect — the linkKey) and hand over to the invoice assistant's pages, which
// serve both editions: the same list, 「导入单据」, refusals and view.
func (s *Sim) handleStandardPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	userKey := strings.TrimSpace(q.Get("userKey"))
	if userKey == "" {
		s.errorPage(w, http.StatusBadRequest, "缺少参数", "userKey 必填。")
		return
	}
	collect := r.URL.Path == stdCollectPagePath
	s.mu.Lock()
	b, err := s.lookupEventCode(userKey)
	wrongLink := err == nil && collect && q.Get("linkKey") != b.linkKey
	s.mu.Unlock()
	switch {
	case err != nil:
		s.eventCodeErrorPage(w, err)
		return
	case wrongLink:
		s.errorPage(w, http.StatusBadRequest, "链接无效", "linkKey 与单据不一致。请回到单据重新点击「采集发票」。")
		return
	}
	mobile := q.Get("client") == "mobile"
	target := viewURL(mobile, userKey)
	if collect {
		target = collectURL(mobile, userKey)
	}
	// Relative to /m4-web/fpzs/…, so a simulator mounted under a prefix still works.
	http.Redirect(w, r, "../../"+target, http.StatusFound)
}

// codeOfCollectURL reads the page code of a bill's collect URL: the ultimate edition's eventCode
// (index.html?formId=rim_fpzs_main, mobile.html?form=rim_mobile_index) or the standard edition's
// userKey (/m4-web/fpzs/index).
func codeOfCollectURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fieldError("url", "not a URL")
	}
	q := u.Query()
	var code string
	switch {
	case strings.HasSuffix(u.Path, "/index.html") && q.Get("formId") == formCollectPC,
		strings.HasSuffix(u.Path, "/mobile.html") && q.Get("form") == formCollectMobile:
		code = q.Get("eventCode")
	case strings.HasSuffix(u.Path, stdCollectPagePath):
		code = q.Get("userKey")
	default:
		return "", fieldError("url", "not a collect page URL (index.html?formId="+formCollectPC+", mobile.html?form="+
			formCollectMobile+" or "+stdCollectPagePath+")")
	}
	if strings.TrimSpace(code) == "" {
		return "", fieldError("url", "carries no eventCode/userKey")
	}
	return code, nil
}

func (s *Sim) simTenants(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"tenants": s.Tenants()})
}
