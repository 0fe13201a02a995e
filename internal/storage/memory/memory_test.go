package memory

import (
	"testing"

	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s := New()
		t.Cleanup(s.Close)
		return s
	})
}
