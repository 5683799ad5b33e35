package page

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Content types of the handler's answers.
const (
	ContentTypeHTML = "text/html; charset=utf-8"
	ContentTypeAtom = "application/atom+xml; charset=utf-8"
)

// Robots is the X-Robots-Tag header and the robots meta of exported pages.
const Robots = "noindex, nofollow"

// styleHash is the CSP source of the one inline stylesheet. The page has no
// script, image, font, frame or form, so everything else stays at
// default-src 'none'; style attributes are not allowed either (no
// 'unsafe-hashes'), which is why progress is a <progress> element.
var styleHash = func() string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// policy without frame-ancestors: a <meta> policy cannot carry it (browsers
// ignore it there with a console warning).
var metaCSP = "default-src 'none'; style-src " + styleHash + "; base-uri 'none'; form-action 'none'"

var headerCSP = metaCSP + "; frame-ancestors 'none'"

// CSP returns the Content-Security-Policy header value.
func CSP() string { return headerCSP }

// MetaCSP returns the policy written into pages as <meta http-equiv>: CSP()
// without frame-ancestors, which only a header can carry.
func MetaCSP() string { return metaCSP }

// Headers returns the headers every answer of the handler carries (page,
// feed, not-published page, redirect, 404), Content-Type excepted. A fresh
// map: callers may modify it.
func Headers() http.Header {
	return http.Header{
		"Content-Security-Policy": {headerCSP},
		"Referrer-Policy":         {"no-referrer"},
		"X-Robots-Tag":            {Robots},
		"Cache-Control":           {"no-store"},
		"X-Content-Type-Options":  {"nosniff"},
	}
}

func setHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	for k, v := range Headers() {
		h[k] = v
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
}
