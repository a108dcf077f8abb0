// Package web holds the web UI's built files (dist/, committed), embedded
// in the binary and served by package api at /. The sources are in src/;
// `npm ci && npm run build` in this directory copies them and the pinned
// Cytoscape.js release (with its licence) into dist/ (see build.mjs).
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// FS returns the UI's files with index.html at the root.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree always has dist/
	}
	return sub
}
