// Package migrations holds Veil's PostgreSQL schema as numbered migrations,
// embedded in the binary so that `veil migrate` needs no files beside it.
//
// Each change is a pair NNNNNN_verb_object.up.sql / .down.sql applied by
// golang-migrate (see package postgres). A migration that has been applied
// anywhere is never edited: a change to the schema is a new pair.
package migrations

import "embed"

// FS holds every migration file, at the root of the file system.
//
//go:embed *.sql
var FS embed.FS
