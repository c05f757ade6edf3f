package kms

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Quotas are AWS KMS's resource and request quotas (docs/kms.md,
// "Quotas"). Zero values take AWS's defaults (us-east-1); a negative
// value turns a quota off.
//
// The request-rate quotas are token buckets shared by every caller, one
// per operation class, as AWS's are per account and Region. They sit
// beside the per-caller limiter (Options.RatePerSecond), which stays.
type Quotas struct {
	// KeysPerAccount bounds customer managed keys (AWS: 100,000),
	// pending deletion included; CreateKey beyond it is LimitExceeded.
	KeysPerAccount int
	// Symmetric: Encrypt, Decrypt, ReEncrypt, GenerateDataKey* and
	// GenerateDataKeyPair* with SYMMETRIC_DEFAULT keys (AWS us-east-1:
	// 100,000/s).
	SymmetricPerSecond float64
	// RSA: Encrypt, Decrypt, Sign, Verify with RSA keys (AWS: 500/s).
	RSAPerSecond float64
	// ECC: Sign and Verify with ECC keys (AWS: 300/s).
	ECCPerSecond float64
	// HMAC: GenerateMac and VerifyMac. AWS counts these against the
	// symmetric quota; here they have their own bucket whose default is
	// the symmetric default.
	HMACPerSecond float64
}

// AWS defaults (us-east-1).
const (
	defaultKeysPerAccount = 100000
	defaultSymmetricRate  = 100000
	defaultRSARate        = 500
	defaultECCRate        = 300
	defaultHMACRate       = defaultSymmetricRate
)

type quotaClass int

const (
	classSymmetric quotaClass = iota
	classRSA
	classECC
	classHMAC
	numClasses
)

func (q quotaClass) String() string {
	return [...]string{"symmetric", "RSA", "ECC", "HMAC"}[q]
}

// quotaLimiter holds one shared bucket per class; a nil bucket is off.
type quotaLimiter struct {
	keys    int
	buckets [numClasses]*limiter
}

func orDefault[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func newQuotaLimiter(q Quotas, now func() time.Time) *quotaLimiter {
	l := &quotaLimiter{keys: orDefault(q.KeysPerAccount, defaultKeysPerAccount)}
	rates := [numClasses]float64{
		orDefault(q.SymmetricPerSecond, defaultSymmetricRate),
		orDefault(q.RSAPerSecond, defaultRSARate),
		orDefault(q.ECCPerSecond, defaultECCRate),
		orDefault(q.HMACPerSecond, defaultHMACRate),
	}
	for i, r := range rates {
		if r > 0 {
			// Burst is one second's worth, as AWS's per-second quotas.
			l.buckets[i] = newLimiter(r, 0, now)
		}
	}
	return l
}

// allow takes one token from class's shared bucket or answers
// ThrottlingException.
func (l *quotaLimiter) allow(class quotaClass) error {
	if l == nil || l.buckets[class] == nil {
		return nil
	}
	if !l.buckets[class].allow("") {
		return fmt.Errorf("%w: %s cryptographic operations request rate exceeded", ErrThrottled, class)
	}
	return nil
}

// checkKeyQuota runs in CreateKey's transaction, so concurrent creates
// can't both pass at the limit (the transaction is the single writer).
func (c *Core) checkKeyQuota(ctx context.Context, tx *sql.Tx) error {
	if c.quota == nil || c.quota.keys < 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM keys WHERE manager = ?`, string(KeyManagerCustomer)).Scan(&n); err != nil {
		return fmt.Errorf("%w: count keys: %v", ErrInternal, err)
	}
	if n >= c.quota.keys {
		return fmt.Errorf("%w: at most %d customer managed keys per account", ErrLimitExceeded, c.quota.keys)
	}
	return nil
}
