package mirror

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// OpaqueKey is HMAC(VITRINE_KEY_SECRET, customer ‖ target ‖ object), written
// into every mirror object so a lost store is rebuilt from the target and a
// create whose answer was lost is found. It reveals nothing about the source
// (no ids, no repo names) and cannot be forged without the secret.
func OpaqueKey(secret []byte, customer, target, object string) string {
	m := hmac.New(sha256.New, secret)
	// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
	for _, part := range []string{customer, target, object} {
		var n [4]byte
		l := len(part)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		m.Write(n[:])
		m.Write([]byte(part))
	}
	sum := m.Sum(nil)[:20]
	return "v1" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum))
}

// Object keys of mirror objects in links.
const (
	milestonePrefix = "ms:"
	commentInfix    = "/c/"
)

// MilestoneObject is the link object of a milestone.
func MilestoneObject(msKey string) string { return milestonePrefix + msKey }

// CommentObject is the link object of a comment; mapping already gives
// comments keys of this form.
func CommentObject(itemKey, commentID string) string { return itemKey + commentInfix + commentID }

// IsMilestoneObject reports whether an object key names a milestone.
func IsMilestoneObject(obj string) bool { return strings.HasPrefix(obj, milestonePrefix) }

// IsCommentObject reports whether an object key names a comment.
func IsCommentObject(obj string) bool { return strings.Contains(obj, commentInfix) }

// OpKey is the queue key of one mirror object in one target.
func OpKey(customer, target, object string) string {
	return "op:" + customer + "|" + target + "|" + object
}

// ParseOpKey splits an op key; ok is false for anything else.
func ParseOpKey(key string) (customer, target, object string, ok bool) {
	rest, found := strings.CutPrefix(key, "op:")
	if !found {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, "|", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
