// Package web holds Veil's own pages, the login, consent and error pages,
// as Go templates and one stylesheet, embedded into the binary. The pages
// work without JavaScript and load nothing from other origins.
package web

import "embed"

// Templates holds the page templates (templates/*.html).
//
//go:embed templates/*.html
var Templates embed.FS

// Static holds the stylesheet served at /static/.
//
//go:embed static/*
var Static embed.FS
