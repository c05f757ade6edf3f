package policy

import (
	"errors"
	"fmt"
)

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

// Parse parses and validates doc. Every error wraps ErrMalformed and says
// what is wrong in words fit to show the policy's author.
func Parse(doc []byte, opts ParseOptions) (*Policy, error) {
	if opts.MaxSize > 0 && len(doc) > opts.MaxSize {
		return nil, malformed("policy is %d bytes, more than the limit of %d", len(doc), opts.MaxSize)
	}
	root, err := readJSON(doc)
	if err != nil {
		return nil, malformed("%v", err)
	}
	if root.kind != kindObject {
		return nil, malformed("policy must be a JSON object, not %s", root.kind)
	}
	p := &Policy{raw: string(doc)}
	var stmts node
	haveStmts := false
	for _, m := range root.obj {
		switch m.key {
		case "Version":
			if m.val.kind != kindString || (m.val.str != "2012-10-17" && m.val.str != "2008-10-17") {
				return nil, malformed(`Version must be "2012-10-17" or "2008-10-17"`)
			}
		case "Id":
			if m.val.kind != kindString {
				return nil, malformed("Id must be a string, not %s", m.val.kind)
			}
		case "Statement":
			stmts, haveStmts = m.val, true
		default:
			return nil, malformed("unknown policy element %s", quote(m.key))
		}
	}
	if !haveStmts {
		return nil, malformed("policy has no Statement")
	}
	var list []node
	switch stmts.kind {
	case kindObject:
		list = []node{stmts}
	case kindArray:
		list = stmts.arr
	default:
		return nil, malformed("Statement must be an object or an array, not %s", stmts.kind)
	}
	if len(list) == 0 {
		return nil, malformed("Statement must not be empty")
	}
	sids := make(map[string]bool)
	for i, n := range list {
		s, err := parseStatement(n, i, &opts)
		if err != nil {
			if s.sid != "" {
				return nil, malformed("statement %s: %v", quote(s.sid), err)
			}
			return nil, malformed("statement #%d: %v", i, err)
		}
		if s.sid != "" {
			// Decisions and the bucket grant commands name statements by
			// Sid, so a Sid must name one statement.
			if sids[s.sid] {
				return nil, malformed("duplicate Sid %s", quote(s.sid))
			}
			sids[s.sid] = true
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
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
// ImplicitDeny. The Allow reported is the first matching one.
func (p *Policy) Evaluate(req Request) Decision {
	var allow *statement
	for i := range p.statements {
		s := &p.statements[i]
		if !s.matches(&req) {
			continue
		}
		if s.deny {
			return Decision{Effect: Deny, Statement: s.name}
		}
		if allow == nil {
			allow = s
		}
	}
	if allow != nil {
		return Decision{Effect: Allow, Statement: allow.name}
	}
	return Decision{Effect: ImplicitDeny}
}
