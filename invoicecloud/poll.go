package invoicecloud

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PollKey is the long poll's key: the lowercase hex MD5 of the linkKey.
func PollKey(linkKey string) string {
	sum := md5.Sum([]byte(linkKey))
	return hex.EncodeToString(sum[:])
}

// Poll holds one long poll for linkKey; (nil, nil) when the cloud answers 1307 (no data).
// The token travels per Config.TokenPlacement, like every business call: the vendor's red note
// forbids it in the URL on current Cosmic. Deliver a message returned here, then call Receipt:
// without a receipt the cloud may deliver it again (same MsgID).
func (c *Client) Poll(ctx context.Context, linkKey string) (*Message, error) {
	if strings.TrimSpace(linkKey) == "" {
		return nil, fieldError("poll", "linkKey", "required")
	}
	start := time.Now()
	status, b, err := c.authorized(ctx, request{name: "poll", method: http.MethodGet, path: c.cfg.Paths.PollData,
		query: url.Values{"key": {PollKey(linkKey)}}, timeout: c.cfg.PollHold}, false)
	if err != nil {
		return nil, err
	}
	var msg *Message
	if status/100 != 2 {
		err = statusError("poll", status, b)
	} else if msg, err = DecodePoll(b); err == nil && msg != nil && msg.MsgID == "" {
		// Without a msgId the receipt cannot be sent; still deliver what arrived.
		c.cfg.Logger.Warn("invoicecloud: poll answer without msgId")
	}
	c.observe("poll", start, err)
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// Receipt acknowledges a polled message.
func (c *Client) Receipt(ctx context.Context, linkKey, msgID string) error {
	switch {
	case strings.TrimSpace(linkKey) == "":
		return fieldError("receipt", "linkKey", "required")
	case strings.TrimSpace(msgID) == "":
		return fieldError("receipt", "msgId", "required")
	}
	start := time.Now()
	status, b, err := c.authorized(ctx, request{name: "receipt", method: http.MethodGet, path: c.cfg.Paths.PollReceipt,
		query: url.Values{"key": {PollKey(linkKey)}, "msgId": {msgID}}, timeout: c.cfg.Timeout}, false)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		err = statusError("receipt", status, b)
	} else {
		var a struct {
			Errcode     flexString `json:"errcode"`
			ErrorCode   flexString `json:"errorCode"`
			Description flexString `json:"description"`
			Message     flexString `json:"message"`
		}
		if json.Unmarshal(b, &a) != nil {
			err = &Error{MessageType: "receipt", HTTPStatus: status, Message: "answer is not JSON", Retryable: true}
		} else if code := string(firstNonEmpty(a.Errcode, a.ErrorCode)); code != PollCodeOK && code != "0" && code != "" {
			msg := string(firstNonEmpty(a.Description, a.Message))
			if msg == "" {
				msg = "receipt refused"
			}
			err = &Error{MessageType: "receipt", HTTPStatus: status, Code: code, Message: Redact(msg)}
		}
	}
	c.observe("receipt", start, err)
	return err
}
