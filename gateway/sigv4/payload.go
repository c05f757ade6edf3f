package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// PayloadReader is the decoded body of an authenticated request. It
// verifies what the signature promised and reports any failure from Read
// before it reports io.EOF, so a consumer that commits only on a clean EOF
// never commits a forged body.
type PayloadReader struct {
	r       io.Reader
	size    int64
	chunked *ChunkedReader
}

// NewPayloadReader returns the body of r decoded and verified according to
// res.PayloadHash:
//   - 64 hex digits: the body, whose SHA-256 is checked at EOF;
//   - UNSIGNED-PAYLOAD: the body as is;
//   - STREAMING-*: the aws-chunked body decoded by a ChunkedReader, with
//     x-amz-decoded-content-length and the names in x-amz-trailer.
func NewPayloadReader(r *http.Request, res *Result) (*PayloadReader, error) {
	body := io.Reader(r.Body)
	if body == nil {
		body = http.NoBody
	}
	if res.Streaming() {
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, newErr(ErrMissingDecodedContentLength, msgDecodedLength)
		}
		var names []string
		for _, v := range r.Header.Values("X-Amz-Trailer") {
			for _, name := range strings.Split(v, ",") {
				if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
					names = append(names, name)
				}
			}
		}
		cr := NewChunkedReader(body, res, n, names)
		return &PayloadReader{r: cr, size: n, chunked: cr}, nil
	}
	size := r.ContentLength
	if res.PayloadHash == UnsignedPayload {
		return &PayloadReader{r: body, size: size}, nil
	}
	want, err := hex.DecodeString(res.PayloadHash)
	if err != nil || len(want) != sha256.Size {
		return nil, newErr(ErrInvalidContentSHA256, msgInvalidSHA)
	}
	return &PayloadReader{r: &hashReader{r: body, h: sha256.New(), want: want}, size: size}, nil
}

// Read reads decoded, verified bytes.
func (p *PayloadReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// Size is the decoded length: x-amz-decoded-content-length for aws-chunked
// bodies, else Content-Length (-1 if unknown).
func (p *PayloadReader) Size() int64 { return p.size }

// Trailer returns the verified aws-chunked trailer (lower-case names, e.g.
// "x-amz-checksum-crc32") once Read has returned io.EOF; nil otherwise.
func (p *PayloadReader) Trailer() http.Header {
	if p.chunked == nil {
		return nil
	}
	return p.chunked.Trailer()
}

// hashReader checks the SHA-256 of everything read against want and turns
// the underlying EOF into ErrContentSHA256Mismatch on a mismatch.
type hashReader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
	err  error
}

func (h *hashReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if subtle.ConstantTimeCompare(h.h.Sum(nil), h.want) != 1 {
			h.err = newErr(ErrContentSHA256Mismatch, msgContentSHA)
			// Withhold the last bytes too: nothing after a mismatch is
			// trustworthy, and the caller must see the error, not EOF.
			return 0, h.err
		}
		h.err = io.EOF
	} else if err != nil {
		h.err = err
	}
	return n, err
}
