package webhook

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of what an attempt keeps of a receiver's answer beside the body
// (which Config.ResponseBodyLimit bounds): a receiver is hostile, and a
// response header of megabytes must not become megabytes of memory and
// storage per attempt.
const (
	// AttemptHeaderLimit is the most bytes one attempt keeps of header
	// names and values (Attempt.RequestHeaders and ResponseHeaders) and of
	// its Error text, together.
	AttemptHeaderLimit = 8 << 10
	// AttemptValueLimit is the most bytes an attempt keeps of any one
	// header value, and of the Location quoted in its Error; the Error
	// itself keeps at most twice that. A longer value is cut and ends in
	// "…[+N bytes]"; Retry-After is read from the whole header before it is
	// cut.
	AttemptValueLimit = 1 << 10
	// MaxResponseHeaderBytesDefault is the default of
	// Config.MaxResponseHeaderBytes (Go's own default is 10 MiB).
	MaxResponseHeaderBytesDefault = 64 << 10
)

// keptResponseHeaders are the response headers an attempt keeps.
var keptResponseHeaders = [...]string{"Location", "Retry-After", "Content-Type"}

// cut returns s whole when it has at most limit bytes, else its first bytes
// up to limit (on a rune boundary) followed by "…[+N bytes]" for the N bytes
// left out. Invalid UTF-8 becomes U+FFFD, so what is kept can be stored as
// text anywhere.
func cut(s string, limit int) string {
	if len(s) > limit {
		n := limit
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…[+" + strconv.Itoa(len(s)-n) + " bytes]"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// headerBudget hands out what is left of AttemptHeaderLimit.
type headerBudget int

// keep stores name: value in m (allocated on first use) if the budget
// allows, the value cut to AttemptValueLimit, and reports whether it did.
func (b *headerBudget) keep(m *map[string]string, name, value string) bool {
	v := cut(value, AttemptValueLimit)
	if int(*b) < len(name)+len(v) {
		return false
	}
	*b -= headerBudget(len(name) + len(v))
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[name] = v
	return true
}

// keepHeaders fills a's Error (already set in full by the caller),
// ResponseHeaders and RequestHeaders within AttemptHeaderLimit: Error first,
// then the kept response headers, then the request headers in name order
// with the signed ones first (the rest are dropped when the budget runs
// out). resp is nil when no answer came.
func keepHeaders(a *Attempt, req http.Header, resp http.Header) {
	a.Error = cut(a.Error, 2*AttemptValueLimit)
	b := headerBudget(AttemptHeaderLimit - len(a.Error))
	for _, k := range keptResponseHeaders {
		if v := resp.Get(k); v != "" {
			b.keep(&a.ResponseHeaders, k, v)
		}
	}
	names := make([]string, 0, len(req))
	for k, v := range req {
		if len(v) > 0 {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, func(x, y string) int {
		if sx, sy := signedHeader(x), signedHeader(y); sx != sy {
			if sx {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	a.RequestHeaders = make(map[string]string, len(names))
	for _, k := range names {
		b.keep(&a.RequestHeaders, k, req[k][0])
	}
}

// redirectError is the Error of an attempt answered with a redirect: the
// Location quoted, cut to AttemptValueLimit.
func redirectError(status int, location string) string {
	return "HTTP " + strconv.Itoa(status) + ": redirect to " + strconv.Quote(cut(location, AttemptValueLimit)) + " not followed"
}
