package sse

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/minio/sio"
)

// DARE 2.0 package geometry (docs/format.md, 3).
const (
	PackageSize     = 64 << 10 // plaintext bytes per package
	PackageOverhead = 32       // header(16) + tag(16)
	EncPackageSize  = PackageSize + PackageOverhead
	maxPlainSize    = int64(1) << 48 // DARE's limit per stream
	maxPackages     = int64(1) << 32 // sequence numbers are 32-bit
)

// EncryptedSize is the ciphertext size of a part of plain bytes.
func EncryptedSize(plain int64) int64 {
	if plain <= 0 {
		return 0
	}
	full, rest := plain/PackageSize, plain%PackageSize
	n := full * EncPackageSize
	if rest > 0 {
		n += rest + PackageOverhead
	}
	return n
}

// DecryptedSize is the plaintext size of a part of enc ciphertext bytes; an
// impossible size (a trailing fragment no longer than the overhead) is
// ErrTampered.
func DecryptedSize(enc int64) (int64, error) {
	if enc < 0 {
		return 0, ErrTampered
	}
	full, rest := enc/EncPackageSize, enc%EncPackageSize
	n := full * PackageSize
	if rest > 0 {
		if rest <= PackageOverhead {
			return 0, ErrTampered
		}
		n += rest - PackageOverhead
	}
	return n, nil
}

// EncryptReader returns the DARE 2.0 encryption of src under the body key of
// part (0 for a single-part object, else the S3 part number). It reads src
// in 64 KiB packages; memory is bounded by one package.
func EncryptReader(src io.Reader, dek ObjectKey, part int, suite Suite) (io.Reader, error) {
	return encryptReader(src, dek, part, suite, rand.Reader)
}

func encryptReader(src io.Reader, dek ObjectKey, part int, suite Suite, rnd io.Reader) (io.Reader, error) {
	if err := checkPart(part, suite); err != nil {
		return nil, err
	}
	r, err := sio.EncryptReader(src, sio.Config{
		MinVersion:   sio.Version20,
		MaxVersion:   sio.Version20,
		CipherSuites: []byte{byte(suite)},
		Key:          partKey(dek, part),
		Rand:         rnd,
	})
	if err != nil {
		return nil, fmt.Errorf("sse: encrypt: %w", err)
	}
	return r, nil
}

// DecryptReader decrypts a ciphertext stream of part that starts at package
// firstPackage of that part. Authentication failures surface from Read as
// errors wrapping ErrTampered. Reaching EOF of src before a package with
// the final flag is an error too, so a caller that reads to EOF has proven
// the part complete; a caller reading a range that ends inside the part
// simply stops reading once it has its bytes.
func DecryptReader(src io.Reader, dek ObjectKey, part int, suite Suite, firstPackage uint32) (io.Reader, error) {
	if err := checkPart(part, suite); err != nil {
		return nil, err
	}
	r, err := sio.DecryptReader(src, sio.Config{
		MinVersion:     sio.Version20,
		MaxVersion:     sio.Version20,
		CipherSuites:   []byte{byte(suite)},
		Key:            partKey(dek, part),
		SequenceNumber: firstPackage,
	})
	if err != nil {
		return nil, fmt.Errorf("sse: decrypt: %w", err)
	}
	return &tamperReader{r: r}, nil
}

func checkPart(part int, suite Suite) error {
	if part < 0 || part > 10000 {
		return fmt.Errorf("sse: invalid part number %d", part)
	}
	if !suite.valid() {
		return fmt.Errorf("sse: invalid cipher suite %d", suite)
	}
	return nil
}

// tamperReader marks sio's authentication errors as ErrTampered so callers
// can tell them from backend I/O errors with errors.Is, and makes every
// error sticky: sio does not always stop after a failed package, and no
// byte may be released after one.
type tamperReader struct {
	r   io.Reader
	err error
}

func (t *tamperReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	t.err = err
	if err != nil && err != io.EOF {
		var se sio.Error
		if errors.As(err, &se) {
			err = fmt.Errorf("%w: %v", ErrTampered, se)
		}
		t.err = err
	}
	return n, err
}
