package sse

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// S3 SSE request header names (canonical form).
const (
	HeaderSSE                 = "X-Amz-Server-Side-Encryption"
	HeaderSSEKMSKeyID         = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	HeaderSSEContext          = "X-Amz-Server-Side-Encryption-Context"
	HeaderSSEBucketKeyEnabled = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	HeaderSSECAlgorithm       = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	HeaderSSECKey             = "X-Amz-Server-Side-Encryption-Customer-Key"
	HeaderSSECKeyMD5          = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
	HeaderCopySSECAlgorithm   = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm"
	HeaderCopySSECKey         = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"
	HeaderCopySSECKeyMD5      = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5"
)

// Header values of x-amz-server-side-encryption.
const (
	AlgorithmAES256  = "AES256"
	AlgorithmKMS     = "aws:kms"
	AlgorithmKMSDSSE = "aws:kms:dsse"
)

// CustomerKey is a validated SSE-C key. String and GoString never print
// the key.
type CustomerKey struct {
	Key    [32]byte
	KeyMD5 string // base64 MD5 of Key, as sent and as echoed
}

func (CustomerKey) String() string   { return "sse.CustomerKey(redacted)" }
func (CustomerKey) GoString() string { return "sse.CustomerKey(redacted)" }

// Request is the encryption a PUT, CreateMultipartUpload or CopyObject
// (destination) asks for. Mode is ModeNone when no SSE header is present
// (the bucket default then applies).
type Request struct {
	Mode     Mode
	KMSKeyID string // as given: key id, key ARN, alias or alias ARN; "" = default
	// Context is the x-amz-server-side-encryption-context value as given
	// (base64 JSON) and ContextMap its decoded form.
	Context    string
	ContextMap map[string]string
	// BucketKeyEnabled is set when the bucket-key header was sent.
	BucketKeyEnabled *bool
	CustomerKey      *CustomerKey // SSE-C only
}

// String never prints the customer key.
func (r Request) String() string {
	return "sse.Request{" + r.Mode.String() + " key-id=" + r.KMSKeyID + "}"
}

// ParsePutHeaders validates the SSE headers of PutObject,
// CreateMultipartUpload and the CopyObject destination.
func ParsePutHeaders(h http.Header) (Request, error) {
	var req Request
	ck, err := ParseSSECHeaders(h, false)
	if err != nil {
		return req, err
	}
	alg, hasAlg := headerValue(h, HeaderSSE)
	keyID, hasKeyID := headerValue(h, HeaderSSEKMSKeyID)
	ctx, hasCtx := headerValue(h, HeaderSSEContext)
	bk, hasBK := headerValue(h, HeaderSSEBucketKeyEnabled)

	if ck != nil {
		// S3: SSE-C cannot be combined with SSE-S3/SSE-KMS parameters.
		if hasAlg || hasKeyID || hasCtx || hasBK {
			return req, ErrConflictingSSEHeaders
		}
		return Request{Mode: ModeSSEC, CustomerKey: ck}, nil
	}
	switch {
	case !hasAlg:
		if hasKeyID || hasCtx || hasBK {
			return req, ErrKMSKeyWithAES256
		}
		return req, nil
	case alg == AlgorithmAES256:
		// S3 rejects a KMS key id or context with AES256; the bucket-key
		// header is accepted and echoed (it is meaningless for SSE-S3).
		if hasKeyID || hasCtx {
			return req, ErrKMSKeyWithAES256
		}
		req.Mode = ModeSSES3
	case alg == AlgorithmKMS:
		req.Mode = ModeSSEKMS
		req.KMSKeyID = keyID
		if hasCtx {
			m, err := ParseEncryptionContext(ctx)
			if err != nil {
				return Request{}, err
			}
			req.Context, req.ContextMap = ctx, m
		}
	case alg == AlgorithmKMSDSSE:
		return req, ErrDSSENotSupported
	default:
		return req, ErrInvalidSSEAlgorithm
	}
	if hasBK {
		var v bool
		switch strings.ToLower(bk) {
		case "true":
			v = true
		case "false":
		default:
			return Request{}, ErrInvalidBucketKeyHeader
		}
		req.BucketKeyEnabled = &v
	}
	return req, nil
}

// maxContextLength bounds the encryption context header (AWS limits KMS
// encryption contexts to a few KB).
const maxContextLength = 4096

// ParseEncryptionContext decodes an x-amz-server-side-encryption-context
// value (base64 of a JSON object of strings), e.g. the one stored in
// ObjectMeta.EncryptionContext when a GET rebuilds the KMS context.
// ErrInvalidEncryptionContext if malformed or using the reserved aws: prefix.
func ParseEncryptionContext(v string) (map[string]string, error) {
	if len(v) > maxContextLength {
		return nil, ErrInvalidEncryptionContext
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, ErrInvalidEncryptionContext
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, ErrInvalidEncryptionContext
	}
	for k, val := range m {
		// The context is echoed and stored as printable ASCII; the aws:
		// prefix is reserved for S3's own context entry.
		if k == "" || !printable(k) || !printable(val) || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, ErrInvalidEncryptionContext
		}
	}
	return m, nil
}

// ParseSSECHeaders parses the SSE-C triple of GET, HEAD, UploadPart and PUT
// (copySource false) or the x-amz-copy-source-… triple of CopyObject and
// UploadPartCopy (copySource true). No headers: nil, nil.
func ParseSSECHeaders(h http.Header, copySource bool) (*CustomerKey, error) {
	algH, keyH, md5H := HeaderSSECAlgorithm, HeaderSSECKey, HeaderSSECKeyMD5
	if copySource {
		algH, keyH, md5H = HeaderCopySSECAlgorithm, HeaderCopySSECKey, HeaderCopySSECKeyMD5
	}
	alg, hasAlg := headerValue(h, algH)
	key, hasKey := headerValue(h, keyH)
	sum, hasSum := headerValue(h, md5H)
	if !hasAlg && !hasKey && !hasSum {
		return nil, nil
	}
	if hasAlg && alg != AlgorithmAES256 {
		return nil, ErrInvalidSSECAlgorithm
	}
	if !hasAlg || !hasKey || !hasSum {
		return nil, ErrMissingSSECHeaders
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return nil, ErrInvalidSSECKey
	}
	ck := &CustomerKey{KeyMD5: sum}
	copy(ck.Key[:], raw)
	clear(raw)
	want := md5.Sum(ck.Key[:])
	got, err := base64.StdEncoding.DecodeString(sum)
	if err != nil || subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return nil, ErrSSECKeyMD5Mismatch
	}
	return ck, nil
}

// headerValue returns the first value of a header and whether it was sent.
func headerValue(h http.Header, name string) (string, bool) {
	v, ok := h[name]
	if !ok {
		// Tolerate non-canonical keys set directly in the map.
		for k, vv := range h {
			if strings.EqualFold(k, name) {
				v, ok = vv, true
				break
			}
		}
	}
	if !ok || len(v) == 0 {
		return "", false
	}
	return strings.TrimSpace(v[0]), true
}

// KMSContext is the KMS encryption context S3 binds to an object's data
// key: the user's context plus "aws:s3:arn" naming the object, or the
// bucket when S3 Bucket Keys are enabled (the data key is then shared per
// bucket).
func KMSContext(bucket, object string, bucketKey bool, user map[string]string) map[string]string {
	ctx := make(map[string]string, len(user)+1)
	for k, v := range user {
		ctx[k] = v
	}
	if bucketKey {
		ctx["aws:s3:arn"] = "arn:aws:s3:::" + bucket
	} else {
		ctx["aws:s3:arn"] = "arn:aws:s3:::" + bucket + "/" + object
	}
	return ctx
}
