package scrub

import (
	"net/url"
	"strings"
)

// safeHref checks that href is an absolute http or https URL with a plain
// host name and no user info, or a mailto URL of exactly one address; it
// returns the URL in its canonical form (what net/url, and so bluemonday,
// print), and its host (the address's domain for mailto), lower-case.
//
// Renderers call it too: a Link in a hand-built Doc that fails it is written
// as its text.
func safeHref(href string) (canon, host string, ok bool) {
	if href == "" || len(href) > 2048 {
		return "", "", false
	}
	for i := 0; i < len(href); i++ {
		// Controls and backslashes are where browsers and Go's parser
		// disagree about the host (https://a.example\@b.example). A space
		// (CommonMark allows it in <...>) is encoded in the canonical form.
		if c := href[i]; c < ' ' || c == 0x7f || c == '\\' {
			return "", "", false
		}
	}
	u, err := url.Parse(href)
	if err != nil {
		return "", "", false
	}
	switch u.Scheme {
	case "http", "https":
		if u.Opaque != "" || u.User != nil || u.Host == "" {
			return "", "", false
		}
		host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if !plainHost(host) {
			return "", "", false
		}
		if p := u.Port(); p != "" && !allDigits(p) {
			return "", "", false
		}
	case "mailto":
		// One address, no headers: a ?cc= or a second address would send
		// mail somewhere the domain check never looked at.
		addr := u.Opaque
		if addr == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(addr, ",;%") {
			return "", "", false
		}
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || strings.IndexByte(addr[:at], '@') >= 0 {
			return "", "", false
		}
		// A plain local part: anything net/url would escape would make the
		// canonical form fail this very check.
		for i := 0; i < at; i++ {
			if c := addr[i]; !isWordByte(c) && c != '.' && c != '+' && c != '-' {
				return "", "", false
			}
		}
		host = strings.TrimSuffix(strings.ToLower(addr[at+1:]), ".")
		if !plainHost(host) {
			return "", "", false
		}
	default:
		return "", "", false
	}
	canon = encodeURLBytes(u.String())
	// The canonical form must be a fixed point, or a sanitizer re-printing
	// it would change our output.
	if u2, err := url.Parse(canon); err != nil || u2.String() != canon {
		return "", "", false
	}
	return canon, host, true
}

// urlSafe are the bytes a canonical href keeps as they are: no brackets,
// pipes, braces, quotes, angle brackets or backslashes, which end or open
// markup in one target or another.
const urlSafe = "-._~:/?#@!$&'()*+,;=%"

// encodeURLBytes percent-encodes every byte of s outside urlSafe and ASCII
// letters and digits.
func encodeURLBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || strings.IndexByte(urlSafe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(pctEncode(c))
	}
	return b.String()
}

func pctEncode(c byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'%', hex[c>>4], hex[c&15]})
}

// plainHost: an ASCII DNS name (letters, digits, '-', '.'); no IP literals,
// no percent-encoding, no Unicode look-alikes.
func plainHost(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '.' || h[0] == '-' || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// domains is a normalised LinkDomains list.
type domains []string

func newDomains(list []string) domains {
	var d domains
	for _, s := range list {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(s, "*.")
		s = strings.Trim(s, ".")
		if plainHost(s) {
			d = append(d, s)
		}
	}
	return d
}

// allows: host is one of the domains or a subdomain of one. A suffix match
// needs the dot, so evilacme.example is not acme.example.
func (d domains) allows(host string) bool {
	for _, s := range d {
		if host == s || strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}

// allowedHref returns the canonical href when it is safe and its host is
// allowed.
func (d domains) allowedHref(href string) (string, bool) {
	canon, host, ok := safeHref(href)
	if !ok || !d.allows(host) {
		return "", false
	}
	return canon, true
}
