// Package policy parses and evaluates the subset of the AWS IAM policy
// language that ssegate's key policies and bucket policies use
// (docs/authorization.md, "The policy language"). It is pure: no I/O, no
// knowledge of KMS or S3 beyond the names its callers pass in.
package policy

import "errors"

// ErrMalformed is a policy document the parser refuses. Callers map it to
// MalformedPolicyDocumentException (KMS) or MalformedPolicy (S3).
var ErrMalformed = errors.New("policy: malformed policy document")

// ParseOptions say what a policy may name. Anything else is ErrMalformed,
// so a policy can never silently mean less than its author thinks.
type ParseOptions struct {
	// Services are the action prefixes allowed ("kms", "s3"). The bare
	// action "*" is always allowed.
	Services []string
	// ConditionKeys are the condition keys allowed, compared
	// case-insensitively. An entry ending in ':' or '/' allows any suffix
	// ("kms:EncryptionContext:", "aws:ResourceTag/").
	ConditionKeys []string
	// RequireResource makes Resource/NotResource mandatory in each
	// statement (bucket policies); key policies may omit it.
	RequireResource bool
	// MaxSize bounds the document in bytes; 0 means no bound.
	MaxSize int
}

// Policy is a parsed policy document. It is immutable and safe for
// concurrent use.
type Policy struct {
	raw        string
	statements []statement
}

type statement struct{}

// Parse parses and validates doc.
func Parse(doc []byte, opts ParseOptions) (*Policy, error) {
	return nil, ErrMalformed // implemented in the policy package work
}

// String returns the document as given to Parse.
func (p *Policy) String() string { return p.raw }

// Request is one authorization question.
type Request struct {
	// Principal is the caller's ARN: "arn:aws:iam::<account>:root" or
	// "arn:aws:iam::<account>:user/<name>".
	Principal string
	// Account is the 12-digit account id; an account principal in a
	// policy ("111122223333" or "arn:aws:iam::111122223333:root") matches
	// only the root ARN of that account.
	Account string
	// Action is "kms:Decrypt", "s3:GetObject", ...
	Action string
	// Resource is the ARN acted on.
	Resource string
	// Context holds the request's condition keys (any case) and their
	// values; a key that is absent is not in the map.
	Context map[string][]string
}

// Effect is the outcome of an evaluation.
type Effect int

const (
	// ImplicitDeny: no statement matched.
	ImplicitDeny Effect = iota
	Allow
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "ImplicitDeny"
}

// Decision is an effect and the statement that decided it: its Sid, or
// "#<index>" (0-based) when it has none; empty for ImplicitDeny.
type Decision struct {
	Effect    Effect
	Statement string
}

// Evaluate answers req: an explicit Deny wins over any Allow; no match is
// ImplicitDeny.
func (p *Policy) Evaluate(req Request) Decision {
	return Decision{}
}
