//go:build darwin || freebsd || netbsd

package fs

import (
	iofs "io/fs"
	"syscall"
	"time"
)

// changeTime is the inode change time (st_ctimespec), which link(2) updates.
func changeTime(fi iofs.FileInfo) (time.Time, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Ctimespec.Sec, st.Ctimespec.Nsec), true
}
