package endpoint

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestMetadataGolden pins the metadata document: a change to what Veil
// advertises must be deliberate (run with -update and review the diff).
func TestMetadataGolden(t *testing.T) {
	got, err := metadata("https://veil.example.test")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "metadata.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("metadata() mismatch (-want +got):\n%s", diff)
	}
}
