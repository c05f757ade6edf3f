package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
)

// MaxChunkSize bounds one aws-chunked chunk. SDKs use 64 KiB (minio-go,
// aws-sdk-go-v2) to 1 MiB (botocore). A signed chunk is buffered whole
// because its signature covers all of it and no byte may be released
// before it is verified; the buffer grows only as bytes arrive, so memory
// per request is at most MaxChunkSize and only for authenticated callers.
// Unsigned chunks are streamed.
const MaxChunkSize = 16 << 20

const (
	maxLine        = 4096 // a chunk header or trailer line
	maxTrailerSize = 16 << 10
	maxTrailers    = 16
)

// ChunkedReader decodes an aws-chunked body (SigV4 streaming upload) and
// verifies it: chained chunk signatures, the trailer signature, the exact
// decoded length, and presence of every declared trailer. Errors are
// returned from Read before io.EOF and are sticky.
type ChunkedReader struct {
	br       *bufio.Reader
	signed   bool // chunks carry chunk-signature (STREAMING-AWS4-HMAC-SHA256-*)
	trailing bool // a trailer follows the final chunk
	res      *Result
	prevSig  string
	want     int64 // x-amz-decoded-content-length
	decoded  int64
	names    []string // declared trailer names, lower case

	chunk     []byte // the current signed chunk, released once verified
	off       int    // released bytes of chunk
	remaining int64  // unread bytes of the current unsigned chunk
	needCRLF  bool   // the current unsigned chunk's CRLF is unread
	sha       hash.Hash
	trailer   http.Header
	err       error
}

// NewChunkedReader decodes body according to res.PayloadHash (one of the
// STREAMING-* modes). decodedLength is x-amz-decoded-content-length and
// trailerNames the lower-case names from x-amz-trailer.
func NewChunkedReader(body io.Reader, res *Result, decodedLength int64, trailerNames []string) *ChunkedReader {
	c := &ChunkedReader{
		br:      bufio.NewReaderSize(body, 64<<10),
		res:     res,
		prevSig: res.seedSig,
		want:    decodedLength,
		names:   trailerNames,
		sha:     sha256.New(),
	}
	switch res.PayloadHash {
	case StreamingSignedPayload:
		c.signed = true
	case StreamingSignedPayloadTrailer:
		c.signed, c.trailing = true, true
	case StreamingUnsignedTrailer:
		c.trailing = true
	default:
		c.err = newErr(ErrInvalidContentSHA256, msgInvalidSHA)
	}
	if !c.trailing && len(trailerNames) > 0 {
		c.err = newErr(ErrMalformedTrailer, msgTrailer)
	}
	return c
}

// Trailer returns the verified trailer once Read has returned io.EOF.
func (c *ChunkedReader) Trailer() http.Header {
	if c.err != io.EOF {
		return nil
	}
	return c.trailer
}

// Read returns decoded payload bytes.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.off < len(c.chunk) {
			n := copy(p, c.chunk[c.off:])
			c.off += n
			return n, nil
		}
		if c.remaining > 0 {
			return c.readUnsigned(p)
		}
		if c.needCRLF {
			if err := c.expectCRLF(); err != nil {
				return 0, c.fail(err)
			}
			c.needCRLF = false
		}
		if err := c.nextChunk(); err != nil {
			return 0, c.fail(err)
		}
	}
}

func (c *ChunkedReader) fail(err error) error {
	c.err = err
	return err
}

func (c *ChunkedReader) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	if err != nil && !(errors.Is(err, io.EOF) && c.remaining == 0) {
		if errors.Is(err, io.EOF) {
			err = incomplete()
		}
		return n, c.fail(err)
	}
	return n, nil
}

func incomplete() error { return newErr(ErrIncompleteBody, msgIncomplete) }

// readLine reads one line ending in "\n" (an optional "\r" before it is
// stripped), of at most maxLine bytes.
func (c *ChunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return "", incomplete()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", incomplete()
		}
		return "", err
	}
	line = line[:len(line)-1]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return string(line), nil
}

func (c *ChunkedReader) expectCRLF() error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return incomplete()
		}
		return err
	}
	if b != [2]byte{'\r', '\n'} {
		return incomplete()
	}
	return nil
}

// nextChunk parses "<hex-size>[;chunk-signature=<sig>]\r\n" and either
// buffers and verifies a signed chunk, arms the unsigned streaming state,
// or, for the final zero-length chunk, reads the trailer and ends with EOF.
func (c *ChunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeHex, ext, hasExt := strings.Cut(line, ";")
	size, ok := parseChunkSize(sizeHex)
	if !ok {
		return incomplete()
	}
	if size > MaxChunkSize {
		return newErr(ErrInvalidChunkSize, msgChunkSize)
	}
	var sig string
	if c.signed {
		s, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !hasExt || !ok || !isHexSignature(s) {
			return newErr(ErrSignatureDoesNotMatch, msgSignature)
		}
		sig = s
	} else if hasExt {
		return incomplete()
	}
	if c.decoded+size > c.want {
		return incomplete()
	}
	if size == 0 {
		return c.finalChunk(sig)
	}
	c.decoded += size
	if !c.signed {
		c.remaining, c.needCRLF = size, true
		return nil
	}
	if err := c.readSignedChunk(size); err != nil {
		return err
	}
	if err := c.expectCRLF(); err != nil {
		return err
	}
	c.sha.Reset()
	c.sha.Write(c.chunk)
	if err := c.verifyChunk(sig, hex.EncodeToString(c.sha.Sum(nil))); err != nil {
		return err
	}
	c.off = 0
	return nil
}

// readSignedChunk reads size bytes into c.chunk. The buffer grows by at
// most 64 KiB ahead of the bytes actually received, so a forged size
// costs no more memory than the bytes the client really sends.
func (c *ChunkedReader) readSignedChunk(size int64) error {
	c.chunk, c.off = c.chunk[:0], 0
	for int64(len(c.chunk)) < size {
		step := int(min(size-int64(len(c.chunk)), 64<<10))
		c.chunk = slices.Grow(c.chunk, step)
		n, err := io.ReadFull(c.br, c.chunk[len(c.chunk):len(c.chunk)+step])
		c.chunk = c.chunk[:len(c.chunk)+n]
		if err != nil {
			c.chunk = c.chunk[:0]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return incomplete()
			}
			return err
		}
	}
	// Keep the chunk unreleased (off == len) until verified.
	c.off = len(c.chunk)
	return nil
}

// verifyChunk checks a chunk signature, chained from the previous one
// (the seed signature for the first chunk).
func (c *ChunkedReader) verifyChunk(sig, payloadHash string) error {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.res.Date.UTC().Format(iso8601Format) + "\n" +
		c.res.scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + payloadHash
	want := hex.EncodeToString(hmacSHA256(c.res.key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return newErr(ErrSignatureDoesNotMatch, msgSignature)
	}
	c.prevSig = sig
	return nil
}

func (c *ChunkedReader) finalChunk(sig string) error {
	if c.signed {
		if err := c.verifyChunk(sig, emptySHA256); err != nil {
			return err
		}
	}
	if c.decoded != c.want {
		return incomplete()
	}
	if c.trailing {
		if err := c.readTrailer(); err != nil {
			return err
		}
	} else if err := c.expectCRLF(); err != nil {
		return err
	}
	return io.EOF
}

// readTrailer reads "name:value" lines up to an empty line; for a signed
// trailer the last line is "x-amz-trailer-signature:<sig>", signed over
// the lines as "name:value\n". Empty lines before the signature are
// tolerated because minio-go terminates the header block with "\n\r\n".
func (c *ChunkedReader) readTrailer() error {
	bad := func() error { return newErr(ErrMalformedTrailer, msgTrailer) }
	c.trailer = make(http.Header)
	var signedBlock strings.Builder
	total := 0
	for lines := 0; ; lines++ {
		if lines > maxTrailers+2 || total > maxTrailerSize {
			return bad()
		}
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, ErrIncompleteBody) {
				return bad()
			}
			return err
		}
		total += len(line)
		if line == "" {
			if !c.signed && len(c.trailer) > 0 || len(c.names) == 0 && !c.signed {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return bad()
		}
		lname := strings.ToLower(strings.TrimSpace(name))
		if c.signed && lname == "x-amz-trailer-signature" {
			if err := c.verifyTrailer(strings.TrimSpace(value), signedBlock.String()); err != nil {
				return err
			}
			if end, err := c.readLine(); err != nil || end != "" {
				return bad()
			}
			break
		}
		if !slices.Contains(c.names, lname) || c.trailer.Get(lname) != "" {
			return bad()
		}
		c.trailer.Set(lname, strings.TrimSpace(value))
		signedBlock.WriteString(line)
		signedBlock.WriteByte('\n')
	}
	for _, n := range c.names {
		if c.trailer.Get(n) == "" {
			return bad()
		}
	}
	return nil
}

func (c *ChunkedReader) verifyTrailer(sig, block string) error {
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.res.Date.UTC().Format(iso8601Format) + "\n" +
		c.res.scope + "\n" + c.prevSig + "\n" + sha256Hex(block)
	want := hex.EncodeToString(hmacSHA256(c.res.key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return newErr(ErrSignatureDoesNotMatch, msgSignature)
	}
	return nil
}

// parseChunkSize parses a chunk size in hex: 1 to 16 digits, no sign, no
// overflow.
func parseChunkSize(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}
