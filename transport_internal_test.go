package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusedAddrs holds one address of every range the guard refuses, in its
// IPv4, IPv6 and IPv4-mapped IPv6 forms where the form exists.
var refusedAddrs = []struct{ name, addr string }{
	{"loopback v4", "127.0.0.1"},
	{"loopback v4 high", "127.255.255.254"},
	{"loopback v4 mapped", "::ffff:127.0.0.1"},
	{"loopback v6", "::1"},
	{"rfc1918 10/8", "10.1.2.3"},
	{"rfc1918 10/8 mapped", "::ffff:10.1.2.3"},
	{"rfc1918 172.16/12", "172.31.255.1"},
	{"rfc1918 172.16/12 mapped", "::ffff:172.16.0.1"},
	{"rfc1918 192.168/16", "192.168.1.1"},
	{"rfc1918 192.168/16 mapped", "::ffff:192.168.1.1"},
	{"cgnat 100.64/10", "100.64.0.1"},
	{"cgnat 100.64/10 top", "100.127.255.254"},
	{"cgnat mapped", "::ffff:100.100.100.200"},
	{"link-local v4 (cloud metadata)", "169.254.169.254"},
	{"link-local v4 mapped", "::ffff:169.254.169.254"},
	{"link-local v6", "fe80::1"},
	{"link-local v6 with zone", "fe80::1%eth0"},
	{"unspecified v4", "0.0.0.0"},
	{"this network 0/8", "0.1.2.3"},
	{"unspecified v4 mapped", "::ffff:0.0.0.0"},
	{"unspecified v6", "::"},
	{"multicast v4", "224.0.0.1"},
	{"multicast v4 top", "239.255.255.250"},
	{"multicast v4 mapped", "::ffff:224.0.0.251"},
	{"multicast v6", "ff02::1"},
	{"multicast v6 global scope", "ff0e::1"},
	{"broadcast", "255.255.255.255"},
	{"broadcast mapped", "::ffff:255.255.255.255"},
	{"reserved 240/4", "240.0.0.1"},
	{"ula fc00::/7", "fc00::1"},
	{"ula fd00 (aws metadata v6)", "fd00:ec2::254"},
	{"ipv4-compatible loopback", "::127.0.0.1"},
	{"nat64 of loopback", "64:ff9b::7f00:1"},
	{"6to4 of rfc1918", "2002:c0a8:101::1"},
	{"documentation v4", "192.0.2.1"},
	{"documentation v6", "2001:db8::1"},
	{"benchmarking", "198.18.0.1"},
}

// allowedAddrs are public unicast addresses (never contacted: the guard is
// called directly).
var allowedAddrs = []string{"93.184.215.14", "8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"}

func TestGuardRefusesSpecialPurposeRanges(t *testing.T) {
	t.Parallel()
	g := &addrGuard{}
	for _, tc := range refusedAddrs {
		a := netip.MustParseAddr(tc.addr)
		assert.False(t, g.allows(a), "%s %s must be refused", tc.name, tc.addr)
		for _, port := range []uint16{80, 443, 8443} {
			err := g.control("tcp", netip.AddrPortFrom(a, port).String(), nil)
			assert.ErrorIs(t, err, ErrAddressNotAllowed, "%s port %d", tc.name, port)
		}
		host := a.WithZone("").String()
		if a.Is6() {
			host = "[" + host + "]"
		}
		err := ValidateURL("https://"+host+"/hooks", false, false)
		assert.ErrorIs(t, err, ErrInvalid, "URL with %s", tc.name)
		assert.NoError(t, ValidateURL("https://"+host+"/hooks", false, true), "allowed with allowPrivate: %s", tc.name)
		assert.True(t, (&addrGuard{allowAll: true}).allows(a), "AllowPrivateNetworks lifts %s", tc.name)
	}
}

func TestGuardAllowsPublicAddressesOnAnyPort(t *testing.T) {
	t.Parallel()
	g := &addrGuard{}
	for _, s := range allowedAddrs {
		a := netip.MustParseAddr(s)
		assert.True(t, g.allows(a), s)
		for _, port := range []uint16{80, 443, 8080, 9443, 65535} {
			assert.NoError(t, g.control("tcp4", netip.AddrPortFrom(a, port).String(), nil), "%s:%d", s, port)
		}
		host := s
		if a.Is6() {
			host = "[" + s + "]"
		}
		assert.NoError(t, ValidateURL("https://"+host+":8443/hooks", false, false), s)
	}
	assert.Error(t, g.control("tcp", "not-an-address", nil))
}

func TestGuardAllowedNetworks(t *testing.T) {
	t.Parallel()
	g := &addrGuard{allowed: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd12::/16")}}
	assert.True(t, g.allows(netip.MustParseAddr("10.20.3.4")))
	assert.True(t, g.allows(netip.MustParseAddr("::ffff:10.20.3.4")), "mapped form of an allowed address")
	assert.True(t, g.allows(netip.MustParseAddr("fd12::9")))
	assert.False(t, g.allows(netip.MustParseAddr("10.21.0.1")), "outside the allowed prefix")
	assert.False(t, g.allows(netip.MustParseAddr("127.0.0.1")))
	assert.NoError(t, g.validateURL("https://10.20.3.4/x", false))
	assert.ErrorIs(t, g.validateURL("https://10.21.3.4/x", false), ErrInvalid)
}

func TestValidateURLRefusesLocalNames(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://localhost/x", "https://LOCALHOST./x", "https://api.localhost:8443/x", "https://[::ffff:127.0.0.1]/x", "https://[fe80::1%25eth0]/x"} {
		err := ValidateURL(u, false, false)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, u)
		assert.Equal(t, "url", ve.Field)
		assert.Contains(t, ve.Error(), "not allowed", u)
		assert.NoError(t, ValidateURL(u, false, true), u)
	}
}

// countingServer counts the requests that reach it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestDefaultClientRefusesNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	srv, n := countingServer(t)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	c := newDefaultClient(&Config{AttemptTimeout: 5 * time.Second})
	defer c.CloseIdleConnections()
	// "localhost" resolves to 127.0.0.1 (and maybe ::1): every address is
	// checked at connect time, after resolution.
	resp, err := c.Get("http://localhost:" + port + "/")
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, ErrAddressNotAllowed)
	assert.Zero(t, n.Load(), "no request reached the server")

	// The same server is reachable once private networks are allowed.
	c2 := newDefaultClient(&Config{AttemptTimeout: 5 * time.Second, AllowPrivateNetworks: true})
	defer c2.CloseIdleConnections()
	resp, err = c2.Get("http://localhost:" + port + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 1, n.Load())
}

// TestDispatcherGuardsResolvedNames stores an endpoint whose name resolves
// to 127.0.0.1 straight into the store (validation would refuse it) and
// checks that the attempt is refused at connect time, DNS rebinding style.
func TestDispatcherGuardsResolvedNames(t *testing.T) {
	t.Parallel()
	srv, n := countingServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	st := NewMemoryStore()
	defer st.Close()
	d, err := New(Config{Store: st, AllowHTTP: true, Retry: RetryPolicy{MaxAttempts: 1}})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, st.CreateEndpoint(ctx, &Endpoint{ID: "ep_local", URL: "http://localhost:" + port + "/", Secret: NewSecret()}))
	msg, err := d.Publish(ctx, RawEvent{Type: "a.b", Data: []byte(`{}`)}, nil)
	require.NoError(t, err)
	ds, _, err := d.ListDeliveries(ctx, DeliveryQuery{MessageID: msg.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	c, err := st.ClaimDelivery(ctx, ds[0].ID, ClaimParams{Now: time.Now(), Lease: time.Minute})
	require.NoError(t, err)
	a := d.send(ctx, c, time.Now())
	require.NotNil(t, a)
	assert.Contains(t, a.Error, "address not allowed")
	assert.Zero(t, a.StatusCode)
	assert.Zero(t, n.Load())
	require.NoError(t, d.Shutdown(ctx))
}

func TestDefaultClientTimeouts(t *testing.T) {
	t.Parallel()
	c := newDefaultClient(&Config{AttemptTimeout: 3 * time.Second})
	tr := c.Transport.(*http.Transport)
	assert.Nil(t, tr.Proxy, "no proxy: it would connect past the guard")
	assert.Equal(t, 3*time.Second, tr.TLSHandshakeTimeout, "bounded by the attempt timeout")
	assert.Equal(t, 3*time.Second, tr.ResponseHeaderTimeout)
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 64)
	assert.Equal(t, http.ErrUseLastResponse, c.CheckRedirect(nil, nil))
	c = newDefaultClient(&Config{AttemptTimeout: time.Minute})
	assert.Equal(t, tlsTimeout, c.Transport.(*http.Transport).TLSHandshakeTimeout)
}
