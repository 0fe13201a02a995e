package main

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		wantOut string
	}{
		{name: "no command", args: nil, wantErr: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: "unknown command"},
		{name: "help", args: []string{"help"}, wantOut: "usage: veil"},
		{name: "serve with bad config", args: []string{"serve"},
			env:     map[string]string{"VEIL_DATABASE_URL": "postgres://u:pw-secret@127.0.0.1:1/x", "VEIL_LOG_LEVEL": "loud"},
			wantErr: "VEIL_ADMIN_TOKEN"},
		{name: "migrate without database", args: []string{"migrate", "up"}, wantErr: "VEIL_DATABASE_URL"},
		{name: "migrate bad subcommand", args: []string{"migrate", "sideways"},
			env: map[string]string{"VEIL_DATABASE_URL": "postgres://127.0.0.1:1/x"}, wantErr: "sideways"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr, func(k string) string { return tt.env[k] })
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run(%v) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("run(%v) error leaks the database password: %v", tt.args, err)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("run(%v) stdout = %q, want %q", tt.args, stdout.String(), tt.wantOut)
			}
		})
	}
}

// TestPackagesHaveDocs checks that every package of the module has a
// package comment saying what it owns.
func TestPackagesHaveDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	docs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		docs[dir] = docs[dir] || (f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package ") || f.Name.Name == "main" && f.Doc != nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 5 {
		t.Fatalf("found %d packages, want the whole module", len(docs))
	}
	for dir, ok := range docs {
		if !ok {
			t.Errorf("package in %s has no package doc comment", dir)
		}
	}
}
