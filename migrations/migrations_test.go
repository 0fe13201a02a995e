package migrations

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var name = regexp.MustCompile(`^(\d{6})_[a-z0-9]+(?:_[a-z0-9]+)*\.(up|down)\.sql$`)

// TestFiles checks that migrations are numbered from 1 without gaps and
// that each has both halves, which golang-migrate does not insist on.
func TestFiles(t *testing.T) {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		t.Fatalf("fs.ReadDir(FS) error: %v", err)
	}

	halves := make(map[int][]string)
	for _, e := range entries {
		m := name.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("file %q does not read NNNNNN_verb_object.(up|down).sql", e.Name())
			continue
		}
		n, _ := strconv.Atoi(m[1])
		halves[n] = append(halves[n], m[2])
	}

	if len(halves) == 0 {
		t.Fatal("FS holds no migration")
	}
	for n := 1; n <= len(halves); n++ {
		t.Run(fmt.Sprintf("%06d", n), func(t *testing.T) {
			// fs.ReadDir sorts by name, and "down" sorts before "up".
			if diff := cmp.Diff([]string{"down", "up"}, halves[n]); diff != "" {
				t.Errorf("halves of migration %d (-want +got):\n%s", n, diff)
			}
		})
	}
}
