package workflows_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"rimflow/invoicecloud"
	"rimflow/workflows"
)

// The submitter's images: at most the default limit's uploadBytes of files (decoded, exactly), named above it.
func TestUploadLimit(t *testing.T) {
	file := func(n int) invoicecloud.ImageFile {
		return invoicecloud.ImageFile{Name: "a.pdf", Type: "pdf", Base64: base64.StdEncoding.EncodeToString(make([]byte, n))}
	}
	for _, n := range []int{0, 1, 2, 3, 1000} {
		eq(t, "decoded size", workflows.UploadBytes([]invoicecloud.ImageFile{file(n)}), n)
	}
	f := map[string]string{}
	workflows.CheckUploads(f, []invoicecloud.ImageFile{file(invoicecloud.DefaultLimits.UploadBytes - 10), file(10)}, nil)
	if len(f) != 0 {
		t.Errorf("at the limit: %v", f)
	}
	workflows.CheckUploads(f, []invoicecloud.ImageFile{file(invoicecloud.DefaultLimits.UploadBytes - 10), file(11)}, nil)
	if !strings.Contains(f["uploads"], "at most 1048576") {
		t.Errorf("above the limit: %v", f)
	}
}
