// Package fs is a store.Store on a local filesystem directory.
//
// On-disk layout under root:
//
//	.tmp/                       temp files; everything here is removed at New
//	<bucket>/                   one directory per bucket (S3 bucket names)
//	<bucket>/.sys/bucket.json   creation time
//	<bucket>/.sys/config/<name> bucket configuration blobs
//	<bucket>/.sys/mpu/<id>/     one multipart upload: upload.json, part
//	                            sidecars p.<n> and part data files o.<gen>
//	<bucket>/[d.<seg>/...]      one directory per key segment but the last
//	    m.<seg>                 the object's sidecar: the commit record, and
//	                            the data of an object up to 128 KiB
//	    o.<gen>                 the data of a larger object, named by its
//	                            sidecar
//
// Every name the key space produces begins with "d.", "m.", "o.", "hd." or
// "hm.", so it can never collide with ".sys" or ".tmp", and a segment such as
// "", "." or ".." (after encoding "d.", "d..", "d...") is an ordinary file
// name that resolves inside its parent. Segments are escaped (see escape) and
// a segment whose escaped name would exceed maxNameLen is replaced by a hash:
// "hd.<sha256>" for directories, which then hold a ".name" file with the real
// segment, and "hm.<sha256>" for sidecars, which always carry the full key.
//
// A sidecar is a JSON record (object.go). Version 1 names a data file;
// version 2 holds the data itself, after the record and one newline, so an
// object up to 128 KiB is one file: one fsync and one rename to write, one
// open to read. Readers accept both; records of multipart parts are always
// version 1.
//
// Writes are atomic: a larger object's data goes to a temp file (fsync)
// and is renamed into the key's directory under a fresh generation name;
// the new sidecar is written to a temp file (fsync) and renamed over the
// old one. That rename is the commit: readers see the old or the new
// object, never a mix. The data file the old
// sidecar named is removed after the commit; a reader that opened the old
// sidecar but finds its data gone re-reads the sidecar. The read-old-sidecar
// plus rename step is serialised per key inside the process, so concurrent
// writers never leak or delete each other's data. One process per root.
//
// Copy hard-links the source's data file under a new generation name and
// commits a new sidecar (falling back to a byte copy where links fail), so
// a copy, including a self-copy that only changes metadata, never rewrites
// a data file (an inline object's copy carries its bytes in the new record). A multipart Complete concatenates the parts into one data file. The
// backend ETag of an object (and of a part) is a random version id, not a
// digest of its bytes (store.ObjectInfo.ETag is opaque).
//
// A crash between renaming data and renaming the sidecar leaves an
// unreferenced o.<gen> file: garbage, never visible as an object. A sweep
// (sweep.go) removes the data files, of objects and of parts of open
// uploads, that no sidecar in their directory names and whose inode has
// not changed (ctime, which a hard link updates, or mtime) for a day, and
// the plain directories that leaves empty. It runs in the background once
// per bucket and Store, after the first successful write to the bucket;
// SweepOrphans runs it on demand. The day of grace is what keeps it from
// deleting data a writer of this or another process is about to commit.
package fs
