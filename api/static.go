package api

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// notBuiltPage is served at / when the server has no UI files.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ransomtrail</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>ransomtrail</h1>
<p>The web UI is not built into this binary. The JSON API is served under
<code>/api/v2</code>; its description is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<p>Health: <a href="/healthz">/healthz</a>. Metrics: <a href="/metrics">/metrics</a>.</p>
</body></html>
`

// static serves the UI's files with a single-page-app fallback: a path
// that names no file is answered with index.html.
type static struct {
	fsys fs.FS
	// exts are the file name extensions of the UI's files: a missing path
	// with one of them is a missing asset (404); any other path, also one
	// with a dot in its last segment (/ransomware/LockBit%203.0), is one
	// of the single-page app's routes.
	exts map[string]bool
}

func newStatic(fsys fs.FS) http.Handler {
	s := &static{fsys: fsys, exts: map[string]bool{}}
	if fsys != nil {
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if e := path.Ext(p); e != "" {
					s.exts[strings.ToLower(e)] = true
				}
			}
			return nil
		})
	}
	return s
}

// suspiciousPath reports whether a raw request path tries to leave the
// served tree: a ".." segment (plain or percent-encoded), a backslash, a
// NUL, or an encoded slash.
func suspiciousPath(raw string) bool {
	segStart := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\\', 0:
			return true
		case '%':
			// %2e (dot), %2f (slash), %5c (backslash), %00, any case.
			if i+2 < len(raw) {
				a, b := raw[i+1], raw[i+2]|0x20
				if (a == '2' && (b == 'e' || b == 'f')) || (a == '5' && b == 'c') || (a == '0' && b == '0') {
					return true
				}
			}
		case '/':
			if seg := raw[segStart:i]; seg == "." || seg == ".." {
				return true
			}
			segStart = i + 1
		}
	}
	seg := raw[segStart:]
	return seg == "." || seg == ".."
}

// uiCSP is the UI's Content-Security-Policy: scripts only from this
// server's files (no inline script, no eval, no javascript: URL), requests
// only to this server. Inline styles stay allowed: the graph library
// (Cytoscape.js) adds a <style> element and the pages set a few style
// attributes; images may be data: (the favicon) and blob: (exports).
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, &Error{Code: CodeNotAllowed, Message: "the UI is read with GET"})
		return
	}
	raw := r.URL.EscapedPath()
	if suspiciousPath(raw) || !strings.HasPrefix(r.URL.Path, "/") {
		writeError(w, apiErr(CodeNotFound, "no such file"))
		return
	}
	// The other security headers are every answer's (Server.ServeHTTP,
	// setAPIHeaders); the UI's files replace only the CSP.
	w.Header().Set("Content-Security-Policy", uiCSP)
	if s.fsys == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, notBuiltPage)
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if !fs.ValidPath(name) {
		writeError(w, apiErr(CodeNotFound, "no such file"))
		return
	}
	b, modTime, err := readFile(s.fsys, name)
	if err != nil {
		// The SPA's own routes (/address/…, /tx/…) are index.html; so is
		// any other unknown path, but a missing asset (a name with an
		// extension the UI's files have: .js, .css, …) is a 404, so broken
		// builds show.
		if s.exts[strings.ToLower(path.Ext(name))] && name != "index.html" {
			writeError(w, apiErr(CodeNotFound, "no such file %s", name))
			return
		}
		name = "index.html"
		if b, modTime, err = readFile(s.fsys, name); err != nil {
			writeError(w, apiErr(CodeNotFound, "the UI has no index.html"))
			return
		}
	}
	if name == "index.html" {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, modTime, bytes.NewReader(b))
}

func readFile(fsys fs.FS, name string) ([]byte, time.Time, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if st.IsDir() {
		return nil, time.Time{}, errors.New("is a directory")
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	return b, st.ModTime(), err
}
