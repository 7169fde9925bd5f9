package workflows

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"rimflow/invoicecloud"
)

// CheckUploads names every bad field of the submitter's images (prefix "uploads"), the files'
// size in all within the bill's limit (what the image system takes with a task [assumed];
// lim nil: the default).
func CheckUploads(f map[string]string, uploads []invoicecloud.ImageFile, lim *invoicecloud.Limits) {
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
	if total, most := UploadBytes(uploads), lim.Or().UploadBytes; total > most {
		f["uploads"] = UploadTooLarge(total, most)
	}
}

// uploadTooLarge marks the error of images above the limit (UploadTooLarge, IsUploadTooLarge).
const uploadTooLarge = "the image system takes at most"

// UploadTooLarge is the error of images of total bytes above the image system's limit most.
func UploadTooLarge(total, most int) string {
	return fmt.Sprintf("%d bytes of files in all; %s %d with a scan task [assumed]: "+
		"send fewer or smaller images, or large originals through the image system's own upload", total, uploadTooLarge, most)
}

// IsUploadTooLarge: the bill refused the images for their size (the API answers 413).
func IsUploadTooLarge(fields map[string]string) bool {
	return strings.Contains(fields["uploads"], uploadTooLarge)
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
