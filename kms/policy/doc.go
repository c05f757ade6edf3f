// Package policy parses and evaluates the subset of the AWS IAM policy
// language that ssegate's key policies and bucket policies use
// (docs/authorization.md, "The policy language"). It is pure: no I/O, no
// knowledge of KMS or S3 beyond the names its callers pass in.
//
// Parse is strict and does the expensive work once (lower-casing, splitting
// ARNs, parsing numbers); Evaluate is allocation-free and never compiles
// anything, so a policy can be parsed when stored and evaluated per request.
package policy
