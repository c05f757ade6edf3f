package policy

import (
	"strings"
	"unicode/utf8"
)

// wildcardMatch reports whether s matches pattern, where '*' matches any
// run of characters (including '/' and ':') and '?' exactly one character.
// With fold, ASCII letters compare case-insensitively; pattern must then
// already be lower-case (Parse does that once).
//
// A hand-written matcher rather than regexp: Evaluate runs per request and
// must not compile anything, escaping user text into a regexp is one more
// place to get security wrong, and the greedy algorithm with a single
// backtrack point is O(len(pattern)·len(s)) in the worst case with no
// allocation.
func wildcardMatch(pattern, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pattern) {
			switch c := pattern[pi]; {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '?':
				// '?' is one character, not one byte: encryption context
				// values may be any UTF-8.
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			case c == s[si] || fold && c == lowerASCII(s[si]):
				pi++
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// arnPattern is an ARN pattern split into its six colon-separated parts
// (the last may itself contain colons), or a plain wildcard pattern when
// the text is not an ARN ("*").
type arnPattern struct {
	whole string    // used when !isARN
	parts [6]string // arn, partition, service, region, account, resource
	isARN bool
}

func newARNPattern(s string) arnPattern {
	if p, ok := splitARN(s); ok {
		return arnPattern{parts: p, isARN: true}
	}
	return arnPattern{whole: s}
}

// splitARN splits "arn:partition:service:region:account:resource" without
// allocating.
func splitARN(s string) (parts [6]string, ok bool) {
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return parts, false
		}
		parts[i], s = s[:j], s[j+1:]
	}
	parts[5] = s
	return parts, true
}

// match compares an ARN as AWS does for Resource and ArnLike: each of the
// six components separately, case-sensitively, with wildcards that can't
// reach into a neighbouring component. A value that isn't an ARN matches
// only a non-ARN pattern such as "*".
func (p *arnPattern) match(s string) bool {
	if !p.isARN {
		return wildcardMatch(p.whole, s, false)
	}
	v, ok := splitARN(s)
	if !ok {
		return false
	}
	for i := range p.parts {
		if !wildcardMatch(p.parts[i], v[i], false) {
			return false
		}
	}
	return true
}
