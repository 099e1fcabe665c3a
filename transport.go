package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrAddressNotAllowed is the error of an attempt, or of an endpoint URL,
// that points at an address the SSRF guard refuses.
var ErrAddressNotAllowed = errors.New("hookline: address not allowed: private, loopback, link-local or otherwise special-purpose; set Config.AllowPrivateNetworks or Config.AllowedNetworks to reach it")

// guardian holds the refused ranges: code.dny.dev/ssrf generates them from
// the IANA IPv4 and IPv6 special-purpose address registries (loopback, RFC
// 1918, CGNAT 100.64/10, link-local and cloud metadata 169.254/16, "this
// network" 0/8, multicast, reserved 240/4 and broadcast, benchmarking,
// documentation, 6to4 relays; for IPv6 everything outside global unicast
// 2000::/3, which covers ::, ::1, fc00::/7, fe80::/10, ff00::/8 and
// 64:ff9b::/96 NAT64, plus 2002::/16 6to4 and the other special blocks).
// Its default port restriction (80 and 443 only) is lifted: receivers
// listen on any port.
var guardian = ssrf.New(ssrf.WithAnyPort())

// addrGuard decides which IP addresses deliveries may reach.
type addrGuard struct {
	allowAll bool
	allowed  []netip.Prefix
}

// allows reports whether a may be reached. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is judged as the IPv4 address it carries, so
// ::ffff:127.0.0.1 is refused like 127.0.0.1 and ::ffff:8.8.8.8 allowed like
// 8.8.8.8.
func (g *addrGuard) allows(a netip.Addr) bool {
	if g.allowAll {
		return true
	}
	a = a.Unmap().WithZone("")
	for _, p := range g.allowed {
		if p.Contains(a) {
			return true
		}
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false // the registry covers these too; checked here as well so a list change cannot open them
	}
	return guardian.SafeAddr(a) == nil
}

// control is a net.Dialer Control function: it runs for every address a
// name resolves to, just before connecting, so DNS rebinding cannot slip an
// internal address past a check made earlier.
func (g *addrGuard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrAddressNotAllowed, address)
	}
	if !g.allows(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrAddressNotAllowed, ap.Addr())
	}
	return nil
}

// Timeouts of the default client's phases; the whole attempt is bounded by
// Config.AttemptTimeout, and each phase by it too when it is shorter.
const (
	dialTimeout = 10 * time.Second
	tlsTimeout  = 10 * time.Second
)

// newDefaultClient builds the client used when Config.HTTPClient is nil:
// the address guard at connect time, no proxy (a proxy would connect for
// us, past the guard), no redirects, timeouts for dial, TLS handshake and
// response headers (the whole attempt has its own context deadline), a cap
// on response header bytes (Config.MaxResponseHeaderBytes), and an
// idle pool of 64 connections per host, so busy receivers keep their
// connections warm.
func newDefaultClient(cfg *Config) *http.Client {
	g := &addrGuard{allowAll: cfg.AllowPrivateNetworks, allowed: cfg.AllowedNetworks}
	dialer := &net.Dialer{Timeout: min(dialTimeout, cfg.AttemptTimeout), KeepAlive: 30 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(tlsTimeout, cfg.AttemptTimeout),
		ResponseHeaderTimeout:  cfg.AttemptTimeout,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		ExpectContinueTimeout:  time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// noRedirects makes the client return a 3xx as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
