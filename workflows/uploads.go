package workflows

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"rimflow/invoicecloud"
)

// CheckUploads names every bad field of the submitter's images (prefix "uploads"), the files'
// size in all at most MaxUploadBytes (what the image system takes with a task [assumed]).
func CheckUploads(f map[string]string, uploads []invoicecloud.ImageFile) {
	for i, u := range uploads {
		p := fmt.Sprintf("uploads[%d].", i)
		if strings.TrimSpace(u.Name) == "" {
			f[p+"fileName"] = "required"
		}
		if !slices.Contains([]string{"pdf", "jpg", "jpeg", "png"}, strings.ToLower(u.Type)) {
			f[p+"fileType"] = "one of pdf, jpg, jpeg, png"
		}
		if _, err := base64.StdEncoding.DecodeString(u.Base64); err != nil || u.Base64 == "" {
			f[p+"base64"] = "the file's content in standard Base64"
		}
	}
	if total := UploadBytes(uploads); total > MaxUploadBytes {
		f["uploads"] = UploadTooLarge(total)
	}
}

// UploadTooLarge is the error of images above the image system's limit.
func UploadTooLarge(total int) string {
	return fmt.Sprintf("%d bytes of files in all; the image system takes at most %d (1 MiB) with a scan task [assumed]: "+
		"send fewer or smaller images, or large originals through the image system's own upload", total, MaxUploadBytes)
}

// UploadBytes is the size of the images' files (decoded; what Base64 says, without decoding).
func UploadBytes(uploads []invoicecloud.ImageFile) int {
	total := 0
	for _, u := range uploads {
		b := u.Base64
		total += base64.StdEncoding.DecodedLen(len(b)) - strings.Count(b[max(0, len(b)-2):], "=")
	}
	return total
}
