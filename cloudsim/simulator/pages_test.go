package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// page fetches a page and parses it.
func (h *harness) page(path string) (int, *html.Node, string) {
	h.t.Helper()
	resp, err := h.srv.Client().Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		h.t.Fatalf("%s: content type %q", path, ct)
	}
	doc, err := html.Parse(strings.NewReader(string(raw)))
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, doc, string(raw)
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byID(doc *html.Node, id string) *html.Node {
	nodes := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(nodes) == 0 {
		return nil
	}
	return nodes[0]
}

// submitForm does what a browser does when the form's submit button is clicked: it posts every
// named input that is enabled (checkboxes only when checked) to the form's action, resolved
// against the page URL. pick may uncheck boxes (return false) before submitting.
func (h *harness) submitForm(pageURL string, doc *html.Node, formID string, pick func(n *html.Node, index int) bool) (int, *html.Node) {
	h.t.Helper()
	form := byID(doc, formID)
	if form == nil {
		h.t.Fatalf("form %s not found", formID)
	}
	if len(findAll(form, func(n *html.Node) bool { return n.Data == "button" })) == 0 {
		h.t.Fatal("submit button missing inside the form")
	}
	values := url.Values{}
	boxes := 0
	for _, in := range findAll(form, func(n *html.Node) bool { return n.Data == "input" }) {
		name, ok := attr(in, "name")
		if !ok {
			continue
		}
		if _, disabled := attr(in, "disabled"); disabled {
			continue
		}
		val, _ := attr(in, "value")
		typ, _ := attr(in, "type")
		if typ == "checkbox" {
			_, checked := attr(in, "checked")
			if pick != nil {
				checked = pick(in, boxes)
			}
			boxes++
			if !checked {
				continue
			}
		}
		values.Add(name, val)
	}
	action, _ := attr(form, "action")
	method, _ := attr(form, "method")
	if !strings.EqualFold(method, "post") {
		h.t.Fatalf("form method %q", method)
	}
	base, _ := url.Parse(h.srv.URL + pageURL)
	target, _ := base.Parse(action)
	resp, err := h.srv.Client().PostForm(target.String(), values)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	doc2, err := html.Parse(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, doc2
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// The page's import must equal what /__sim/collect does on a twin simulator with the same seed.
func TestCollectPageImportEqualsSimCollectOnATwin(t *testing.T) {
	pageSim := newHarness(t, Options{Seed: 42})
	twin := newHarness(t, Options{Seed: 42})
	tokP, tokT := pageSim.accessToken(), twin.accessToken()
	codeP, codeT := pageSim.eventCode(tokP, "A"), twin.eventCode(tokT, "A")
	if codeP != codeT {
		t.Fatal("twins should issue the same eventCode")
	}

	pageURL := "/index.html?formId=" + formCollectPC + "&eventCode=" + codeP
	status, doc, raw := pageSim.page(pageURL)
	if status != http.StatusOK || !strings.Contains(raw, "导入单据") {
		t.Fatalf("collect page: %d", status)
	}
	rows := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-serial"); return ok && n.Data == "tr" })
	if len(rows) != samplesPerPage {
		t.Fatalf("%d rows, want %d", len(rows), samplesPerPage)
	}
	nonCompliant := 0
	for _, r := range rows {
		if v, _ := attr(r, "data-compliant"); v == "false" {
			nonCompliant++
			if !strings.Contains(text(r), "不合规") {
				t.Fatal("the non-compliant row should say 不合规")
			}
		}
	}
	if nonCompliant != 1 {
		t.Fatalf("%d non-compliant samples, want 1", nonCompliant)
	}

	// Tick the first three compliant boxes only, as a user would, and also the non-compliant one.
	ticked := 0
	status, result := pageSim.submitForm(pageURL, doc, "collect", func(n *html.Node, i int) bool {
		row := n.Parent.Parent
		if v, _ := attr(row, "data-compliant"); v == "false" {
			return true
		}
		ticked++
		return ticked <= 3
	})
	res := byID(result, "result")
	if status != http.StatusOK || res == nil {
		t.Fatalf("import answered %d", status)
	}
	if c, _ := attr(res, "data-count"); c != "3" || !strings.Contains(text(res), "导入成功") {
		t.Fatalf("result count %q: %s", c, text(res))
	}
	refused := byID(result, "refused")
	if refused == nil || !strings.Contains(text(refused), "不合规") {
		t.Fatal("the non-compliant invoice should be refused on import")
	}

	_, twinResp := twin.post("/__sim/collect", map[string]any{"eventCode": codeT, "count": 3})
	twinSerials := serialsOf(twinResp["delivered"].([]any))
	var pageSerials []string
	for _, r := range findAll(byID(result, "delivered"), func(n *html.Node) bool { return n.Data == "tr" }) {
		if v, ok := attr(r, "data-serial"); ok {
			pageSerials = append(pageSerials, v)
		}
	}
	if !reflect.DeepEqual(pageSerials, twinSerials) {
		t.Fatalf("page imported %v, twin collected %v", pageSerials, twinSerials)
	}
	// The records delivered on the socket/poll are identical too.
	_, polled := pageSim.poll(tokP, "lk-A")
	a, _ := json.Marshal(dig(polled, "data", "data", "data", "data"))
	b, _ := json.Marshal(twinResp["delivered"])
	if string(a) != string(b) {
		t.Fatalf("delivered records differ:\npage %s\ntwin %s", a, b)
	}
	// Reloading shows the imported rows disabled, and a second page so at least seven are importable.
	_, doc, _ = pageSim.page(pageURL)
	disabled := findAll(doc, func(n *html.Node) bool { _, d := attr(n, "disabled"); return n.Data == "input" && d })
	if len(disabled) != 3 {
		t.Fatalf("%d disabled boxes after import, want 3", len(disabled))
	}
	if imp := byID(doc, "importable"); imp == nil || text(imp) != "12" {
		t.Fatalf("importable after reload: %v", text(imp))
	}
	// An imported row's box is disabled, so the browser cannot send it again: nothing selected → 400 page.
	status, again := pageSim.submitForm(pageURL, doc, "collect", func(n *html.Node, i int) bool {
		v, _ := attr(n, "value")
		return v == pageSerials[0]
	})
	if status != http.StatusBadRequest || byID(again, "error") == nil {
		t.Fatalf("re-submitting a disabled row: %d", status)
	}
	// Forced past the page, the import refuses it as 已导入.
	if got, _ := pageSim.sim.ImportSelected(codeP, pageSerials[:1]); len(got.Delivered) != 0 || got.Refused[0].Reason != "已导入本单据" {
		t.Fatalf("re-import: %+v", got)
	}
}

func TestMobileAndViewPages(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	mobileURL := "/mobile.html?form=" + formCollectMobile + "&eventCode=" + code
	status, doc, _ := h.page(mobileURL)
	if status != http.StatusOK {
		t.Fatalf("mobile collect: %d", status)
	}
	status, result := h.submitForm(mobileURL, doc, "collect", nil) // default: every compliant box is checked
	if c, _ := attr(byID(result, "result"), "data-count"); status != http.StatusOK || c != "7" {
		t.Fatalf("mobile import: %d count %q", status, c)
	}
	serials := serialsOf(dig(func() map[string]any { _, r := h.poll(tok, "lk-A"); return r }(), "data", "data", "data", "data").([]any))
	h.mustOK(h.message(tok, "billSave", nextID("p"), saveData("A", "30", serials[:2]...)))
	h.mustOK(h.message(tok, "billSave", nextID("p"), saveData("A", "60", serials[:1]...)))
	h.mustOK(h.message(tok, "billSave", nextID("p"), func() map[string]any {
		d := saveData("A", "30", serials[1])
		return d
	}()))
	for _, path := range []string{
		"/index.html?formId=" + formViewPC + "&eventCode=" + code,
		"/mobile.html?form=" + formViewMobile + "&eventCode=" + code,
	} {
		status, doc, _ := h.page(path)
		if status != http.StatusOK {
			t.Fatalf("%s: %d", path, status)
		}
		rows := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-status"); return ok })
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows, want 1", path, len(rows))
		}
		if st, _ := attr(rows[0], "data-status"); st != "30" || !strings.Contains(text(rows[0]), "在用") {
			t.Fatalf("view row: %s", text(rows[0]))
		}
	}
}

func TestExpiredAndUnknownEventCodes(t *testing.T) {
	h := newHarness(t, Options{EventCodeTTL: 10 * time.Minute})
	tok := h.accessToken()
	code := h.eventCode(tok, "A")
	pageURL := "/index.html?formId=" + formCollectPC + "&eventCode=" + code
	status, doc, _ := h.page(pageURL)
	if status != http.StatusOK {
		t.Fatal(status)
	}
	h.clock.Advance(10 * time.Minute)

	status, errDoc, raw := h.page(pageURL)
	if status != http.StatusGone || byID(errDoc, "error") == nil || !strings.Contains(raw, "已过期") {
		t.Fatalf("expired page: %d %s", status, raw)
	}
	if status, resp := h.post("/__sim/collect", map[string]any{"eventCode": code, "count": 1}); status != http.StatusGone || resp["field"] != "eventCode" {
		t.Fatalf("expired collect: %d %v", status, resp)
	}
	// Submitting a page loaded before expiry is refused too, with the 410 page.
	if status, _ := h.submitForm(pageURL, doc, "collect", nil); status != http.StatusGone {
		t.Fatalf("import after expiry: %d", status)
	}
	for path, want := range map[string]int{
		"/index.html?formId=" + formCollectPC + "&eventCode=nope":       http.StatusNotFound,
		"/mobile.html?form=" + formViewMobile + "&eventCode=nope":       http.StatusNotFound,
		"/index.html?formId=" + formCollectPC:                           http.StatusBadRequest,
		"/index.html?formId=rim_unknown&eventCode=" + code:              http.StatusNotFound,
		"/mobile.html?form=" + formCollectMobile + "&eventCode=" + code: http.StatusGone,
	} {
		if status, _, _ := h.page(path); status != want {
			t.Errorf("%s: %d, want %d", path, status, want)
		}
	}
	if status, _ := h.post("/__sim/collect", map[string]any{"eventCode": "nope", "count": 1}); status != http.StatusNotFound {
		t.Fatalf("unknown collect: %d", status)
	}
	// A fresh eventCode for the same bill opens the page again.
	if status, _, _ := h.page("/index.html?formId=" + formCollectPC + "&eventCode=" + h.eventCode(h.accessToken(), "A")); status != http.StatusOK {
		t.Fatalf("fresh code: %d", status)
	}
	// An empty selection is a clear 400 page.
	resp, err := h.srv.Client().PostForm(h.srv.URL+importPath, url.Values{"eventCode": {code}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty import: %d", resp.StatusCode)
	}
}

func TestHomePageAndWrongMethods(t *testing.T) {
	h := newHarness(t, Options{})
	status, doc, raw := h.page("/")
	if status != http.StatusOK || doc == nil || !strings.Contains(raw, "/kapi/app/rim/message") {
		t.Fatalf("home: %d", status)
	}
	resp, err := h.srv.Client().Get(h.srv.URL + "/kapi/app/rim/message")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET on the message API: %d", resp.StatusCode)
	}
	if st := h.sim.Stats(); st.Endpoints["/kapi/app/rim/message"] != 0 {
		t.Fatal("a refused method is not a call")
	}
}
