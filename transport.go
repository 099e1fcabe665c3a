package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrAddressNotAllowed is the error of an attempt, or of an endpoint URL,
// that points at an address the SSRF guard refuses.
var ErrAddressNotAllowed = errors.New("hookline: address not allowed: private, loopback, link-local or otherwise special-purpose; set Config.AllowPrivateNetworks or Config.AllowedNetworks to reach it")

// blockedPrefixes are the special-purpose ranges a webhook must not reach by
// default.
var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"255.255.255.255/32",
		"::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// addrGuard decides which IP addresses deliveries may reach.
type addrGuard struct {
	allowAll bool
	allowed  []netip.Prefix
}

func (g *addrGuard) allows(a netip.Addr) bool {
	if g.allowAll {
		return true
	}
	a = a.Unmap()
	for _, p := range g.allowed {
		if p.Contains(a) {
			return true
		}
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
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

// newDefaultClient builds the client used when Config.HTTPClient is nil.
func newDefaultClient(cfg *Config) *http.Client {
	g := &addrGuard{allowAll: cfg.AllowPrivateNetworks, allowed: cfg.AllowedNetworks}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would bypass the address guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.AttemptTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// noRedirects makes the client return a 3xx as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
