package fs_test

import (
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
	"github.com/ssegate/ssegate/store/storetest"
)

func newStore(t *testing.T) *fs.Store {
	t.Helper()
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}
