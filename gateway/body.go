package gateway

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strings"

	"github.com/minio/crc64nvme"
)

// bodyReader streams a request body to the store and is the last line of
// defence for integrity: it computes the plaintext MD5 and the requested
// x-amz-checksum-*, enforces the declared length, and reports any mismatch
// (or any deferred signature/framing error of the layers below) as an error
// from Read instead of the final bytes. So a store that stops after exactly
// size bytes still sees the failure, and nothing is stored.
type bodyReader struct {
	r        io.Reader
	size     int64 // declared plaintext length
	n        int64
	md5      hash.Hash
	wantMD5  []byte // from Content-MD5, nil if absent
	algo     string // "crc32", "crc32c", "sha1", "sha256", "crc64nvme" or ""
	ck       hash.Hash
	wantCk   string // base64; empty: from trailer, or just compute
	trailers trailerSource
	done     bool
	err      error
}

var checksumAlgos = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
	"crc64nvme": func() hash.Hash { return crc64nvme.New() },
}

// newBodyReader reads the integrity headers of r. size is the decoded
// content length.
func newBodyReader(r *http.Request, size int64) (*bodyReader, error) {
	b := &bodyReader{r: r.Body, size: size, md5: md5.New()}
	if r.Body == nil {
		b.r = http.NoBody
	}
	if ts, ok := r.Body.(trailerSource); ok {
		b.trailers = ts
	}
	if v, ok := r.Header["Content-Md5"]; ok {
		sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[0]))
		if err != nil || len(sum) != md5.Size {
			return nil, errInvalidDigest
		}
		b.wantMD5 = sum
	}
	for algo := range checksumAlgos {
		if v := r.Header.Get("X-Amz-Checksum-" + algo); v != "" {
			if b.algo != "" {
				return nil, errInvalidRequest.with("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			b.algo, b.wantCk = algo, v
		}
	}
	trailer := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
	if algo, ok := strings.CutPrefix(trailer, "x-amz-checksum-"); ok && b.algo == "" {
		if checksumAlgos[algo] == nil {
			return nil, errInvalidChecksumAlgo
		}
		b.algo = algo
	}
	if b.algo == "" {
		if a := strings.ToLower(r.Header.Get("X-Amz-Sdk-Checksum-Algorithm")); a != "" {
			if checksumAlgos[a] == nil {
				return nil, errInvalidChecksumAlgo
			}
			b.algo = a
		}
	}
	if b.algo != "" {
		b.ck = checksumAlgos[b.algo]()
	}
	return b, nil
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if rem := b.size - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	var err error
	if len(p) > 0 {
		n, err = b.r.Read(p)
	} else {
		err = b.probeEOF()
	}
	b.md5.Write(p[:n])
	if b.ck != nil {
		b.ck.Write(p[:n])
	}
	b.n += int64(n)
	if err == nil && b.n == b.size {
		err = b.probeEOF()
	}
	if err == io.EOF {
		if ferr := b.finish(); ferr != nil {
			b.err = ferr
			return 0, ferr // withhold the final bytes: the store must not commit
		}
		b.done = true
		return n, nil
	}
	if err != nil {
		b.err = err
		return 0, err
	}
	return n, nil
}

// probeEOF reads past the declared length, which drives aws-chunked readers
// through their final chunk and trailer. Any byte there is a framing error.
func (b *bodyReader) probeEOF() error {
	var one [1]byte
	for {
		n, err := b.r.Read(one[:])
		if n > 0 {
			return errIncompleteBody.with("The request body is longer than its declared length.")
		}
		if err != nil {
			return err
		}
	}
}

func (b *bodyReader) finish() error {
	if b.n != b.size {
		return errIncompleteBody
	}
	if b.wantMD5 != nil && !bytes.Equal(b.md5.Sum(nil), b.wantMD5) {
		return errBadDigest
	}
	if b.ck == nil {
		return nil
	}
	want := b.wantCk
	if want == "" && b.trailers != nil {
		want = b.trailers.Trailer().Get("x-amz-checksum-" + b.algo)
	}
	if want != "" && want != b.Checksum() {
		return errChecksumMismatch.with("Value for x-amz-checksum-" + b.algo + " header is invalid.")
	}
	return nil
}

// MD5 is the plaintext MD5, valid after EOF.
func (b *bodyReader) MD5() []byte { return b.md5.Sum(nil) }

// Checksum returns the base64 x-amz-checksum value, valid after EOF.
func (b *bodyReader) Checksum() string {
	if b.ck == nil {
		return ""
	}
	sum := b.ck.Sum(nil)
	if h, ok := b.ck.(hash.Hash32); ok {
		sum = binary.BigEndian.AppendUint32(nil, h.Sum32())
	}
	return base64.StdEncoding.EncodeToString(sum)
}
