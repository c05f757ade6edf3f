package fs

import (
	iofs "io/fs"
	"time"
)

// SetOrphanGrace changes how old an unreferenced data file must be before
// the background sweep removes it. Call it before the first write.
func SetOrphanGrace(s *Store, d time.Duration) { s.orphanGrace = d }

// WaitSweeps waits for the background sweeps started so far.
func WaitSweeps(s *Store) { s.sweeps.Wait() }

// LastChange is lastChange, for tests that choose cutoffs.
func LastChange(fi iofs.FileInfo) (time.Time, bool) { return lastChange(fi) }

// SetInlineMax changes the largest object Put stores inline in its sidecar;
// -1 stores every object in a data file.
func SetInlineMax(s *Store, n int64) { s.inlineMax = n }
