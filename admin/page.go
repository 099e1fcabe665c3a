package admin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

type pageRenderer struct {
	tmpl *template.Template
}

func newPageRenderer() (*pageRenderer, error) {
	t, err := template.ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, err
	}
	return &pageRenderer{tmpl: t}, nil
}

// pageData is what index.html is rendered with.
type pageData struct {
	Title       string
	Nonce       string
	Base        string
	Tenant      string
	Operator    bool
	Permissions string
	ReadOnly    bool
	CanReveal   bool
}

// basePath is the path the handler is mounted at, as the browser sees it:
// the request's original path minus what the handler received.
func basePath(r *http.Request) string {
	orig := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		orig = u.Path
	}
	base := strings.TrimSuffix(orig, r.URL.Path)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request, s scope) error {
	var nb [18]byte
	_, _ = rand.Read(nb[:])
	nonce := base64.RawURLEncoding.EncodeToString(nb[:])
	fa := "'none'"
	if len(h.o.FrameAncestors) > 0 {
		fa = strings.Join(h.o.FrameAncestors, " ")
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors "+fa)
	hd.Set("Content-Type", "text/html; charset=utf-8")
	if len(h.o.FrameAncestors) == 0 {
		hd.Set("X-Frame-Options", "DENY")
	}
	var buf bytes.Buffer
	err := h.page.tmpl.Execute(&buf, pageData{
		Title: h.o.Title, Nonce: nonce, Base: basePath(r), Tenant: s.tenant, Operator: s.operator,
		Permissions: s.perms.String(), ReadOnly: h.o.ReadOnly, CanReveal: s.perms.Has(PermSecrets),
	})
	if err != nil {
		return err
	}
	_, _ = w.Write(buf.Bytes())
	return nil
}

var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, s scope) error {
	name := r.PathValue("file")
	ct, ok := assetTypes[path.Ext(name)]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return nil
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
	return nil
}
