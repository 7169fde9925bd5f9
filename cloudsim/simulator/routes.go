package simulator

import (
	"net/http"
	"strings"
)

// routes wires every endpoint. Product endpoints are counted in Stats and get the injected
// latency; /__sim/ endpoints are neither counted nor slowed.
func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	product := func(method, path string, h http.HandlerFunc) {
		wrapped := func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.stats.Endpoints[path]++
			s.mu.Unlock()
			// Only the path is logged: query strings carry tokens.
			s.log.Debug("cloudsim request", "method", r.Method, "path", r.URL.Path)
			s.injectLatency(r)
			h(w, r)
		}
		mux.HandleFunc(method+" "+path, wrapped)
	}
	product("POST", "/api/getAppToken.do", s.handleAppToken)
	product("POST", "/api/login.do", s.handleLogin)
	product("POST", "/kapi/oauth2/getToken", s.handleOAuth2Token)
	product("POST", "/kapi/app/rim/message", s.handleMessage)
	product("POST", "/kapi/app/rim/deduction", s.handleDeduction)
	product("GET", "/msgwatch/", s.handleSocket)
	product("GET", "/msgwatch", s.handleSocket)
	product("GET", s.opts.Paths.PollData, s.handlePoll)
	product("GET", s.opts.Paths.PollReceipt, s.handleReceipt)
	product("GET", "/index.html", s.handlePCPage)
	product("GET", "/mobile.html", s.handleMobilePage)
	product("POST", importPath, s.handleImport)
	s.standardRoutes(product)
	s.imageRoutes(product, mux)

	mux.HandleFunc("POST /__sim/collect", s.simCollect)
	mux.HandleFunc("GET /__sim/bills", s.simBills)
	mux.HandleFunc("GET /__sim/bills/{resource}/{billId}", s.simBill)
	mux.HandleFunc("GET /__sim/invoices", s.simInvoices)
	mux.HandleFunc("POST /__sim/invoices/{serialNo}/release", s.simRelease)
	mux.HandleFunc("GET /__sim/tokens", s.simTokens)
	mux.HandleFunc("GET /__sim/invoices/{serialNo}", s.simInvoice)
	mux.HandleFunc("GET /__sim/samples/{eventCode}", s.simSamples)
	mux.HandleFunc("GET /__sim/linkkeys/{linkKey}", s.simLinkKey)
	mux.HandleFunc("GET /__sim/stats", s.simStats)
	mux.HandleFunc("GET /__sim/faults", s.simGetFaults)
	mux.HandleFunc("POST /__sim/faults", s.simSetFaults)
	mux.HandleFunc("DELETE /__sim/faults", s.simClearFaults)
	mux.HandleFunc("POST /__sim/clock", s.simClock)
	mux.HandleFunc("GET /__sim/tenants", s.simTenants)
	mux.HandleFunc("GET /__sim/pushes", s.simPushes)
	mux.HandleFunc("GET /__sim/imagepushes", s.simImagePushes)
	mux.HandleFunc("GET /{$}", s.handleHome)
	// The image system's own address (影像系统的接口地址): the same endpoints under ImageSystemPrefix,
	// so an enterprise's image system has a base URL of its own, as the vendor's demo host differs
	// from the cloud's.
	image := http.StripPrefix(ImageSystemPrefix, mux)
	mux.HandleFunc(ImageSystemPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.ImageSystemEndpoints[strings.TrimPrefix(r.URL.Path, ImageSystemPrefix)]++
		s.mu.Unlock()
		image.ServeHTTP(w, r)
	})
	// Its push address (推送地址): the image system's own address itself [assumed], with or
	// without the trailing slash.
	imagePush := func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.ImageSystemEndpoints["/"]++
		s.mu.Unlock()
		s.handleImagePush(w, r)
	}
	mux.HandleFunc("POST "+ImageSystemPrefix, imagePush)
	mux.HandleFunc("POST "+ImageSystemPrefix+"/{$}", imagePush)
	return mux
}

// ImageSystemPrefix is where the simulator's image system answers: {simulator URL}/image is its
// base URL (erpBillPush, operate, and the logins they need).
const ImageSystemPrefix = "/image"

// importPath is where the collect page posts 「导入单据」 (relative in the page, so the simulator
// also works mounted under a tenant prefix).
const importPath = "/rim/fpzs/import"

func relative(path string) string { return strings.TrimPrefix(path, "/") }
