package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// statement is one parsed statement, prepared for evaluation: action
// patterns lower-cased, ARNs split, condition values converted.
type statement struct {
	sid  string
	name string // sid, or "#<index>"
	deny bool

	principals   principalSet
	notPrincipal bool
	actions      []string // lower-case patterns
	notAction    bool
	resources    []arnPattern // nil: the statement names no resource (key policies)
	notResource  bool
	conditions   []condition
}

// principalSet is the Principal or NotPrincipal of a statement.
type principalSet struct {
	any  bool     // "*" or {"AWS": "*"}
	arns []string // exact caller ARNs (accounts normalised to their root ARN)
}

func (ps *principalSet) match(caller string) bool {
	if ps.any {
		return true
	}
	for _, a := range ps.arns {
		if a == caller {
			return true
		}
	}
	return false
}

func parseStatement(n node, index int, opts *ParseOptions) (statement, error) {
	s := statement{name: "#" + strconv.Itoa(index)}
	if n.kind != kindObject {
		return s, fmt.Errorf("a statement must be an object, not %s", n.kind)
	}
	// The Sid is looked up first so any later error can name the statement.
	for _, m := range n.obj {
		if m.key == "Sid" {
			if m.val.kind != kindString {
				return s, fmt.Errorf("Sid must be a string, not %s", m.val.kind)
			}
			if m.val.str != "" {
				s.sid, s.name = m.val.str, m.val.str
			}
		}
	}
	var haveEffect, havePrincipal, haveAction, haveResource bool
	for _, m := range n.obj {
		var err error
		switch m.key {
		case "Sid":
		case "Effect":
			haveEffect = true
			switch {
			case m.val.kind == kindString && m.val.str == "Allow":
			case m.val.kind == kindString && m.val.str == "Deny":
				s.deny = true
			default:
				err = errors.New(`Effect must be "Allow" or "Deny"`)
			}
		case "Principal", "NotPrincipal":
			if havePrincipal {
				return s, errors.New("a statement takes exactly one of Principal and NotPrincipal")
			}
			havePrincipal, s.notPrincipal = true, m.key == "NotPrincipal"
			s.principals, err = parsePrincipal(m.key, m.val)
		case "Action", "NotAction":
			if haveAction {
				return s, errors.New("a statement takes exactly one of Action and NotAction")
			}
			haveAction, s.notAction = true, m.key == "NotAction"
			s.actions, err = parseActions(m.key, m.val, opts.Services)
		case "Resource", "NotResource":
			if haveResource {
				return s, errors.New("a statement takes at most one of Resource and NotResource")
			}
			haveResource, s.notResource = true, m.key == "NotResource"
			s.resources, err = parseResources(m.key, m.val)
		case "Condition":
			s.conditions, err = parseConditions(m.val, opts)
		default:
			err = fmt.Errorf("unknown statement element %s", quote(m.key))
		}
		if err != nil {
			return s, err
		}
	}
	switch {
	case !haveEffect:
		return s, errors.New("missing Effect")
	case !havePrincipal:
		return s, errors.New("missing Principal")
	case !haveAction:
		return s, errors.New("missing Action")
	case !haveResource && opts.RequireResource:
		return s, errors.New("missing Resource")
	case s.notPrincipal && !s.deny:
		// AWS supports NotPrincipal only with Deny; with Allow it would
		// grant everyone else, anonymous callers included.
		return s, errors.New(`NotPrincipal can only be used with "Effect": "Deny"`)
	}
	return s, nil
}

func parsePrincipal(elem string, n node) (principalSet, error) {
	var ps principalSet
	if n.kind == kindString {
		if n.str != "*" {
			return ps, fmt.Errorf(`%s must be "*" or an object such as {"AWS": ...}`, elem)
		}
		ps.any = true
		return ps, nil
	}
	if n.kind != kindObject || len(n.obj) == 0 {
		return ps, fmt.Errorf(`%s must be "*" or an object such as {"AWS": ...}`, elem)
	}
	for _, m := range n.obj {
		vals, err := m.val.strings(elem + "." + m.key)
		if err != nil {
			return ps, err
		}
		switch m.key {
		case "AWS":
			for _, v := range vals {
				if v == "*" {
					ps.any = true
					continue
				}
				arn, err := awsPrincipalARN(v)
				if err != nil {
					return ps, err
				}
				ps.arns = append(ps.arns, arn)
			}
		case "Service":
			for _, v := range vals {
				if v == "" || hasWildcard(v) || strings.Contains(v, "${") {
					return ps, fmt.Errorf("invalid service principal %s", quote(v))
				}
				ps.arns = append(ps.arns, v)
			}
		default:
			return ps, fmt.Errorf("unsupported principal type %s (use AWS or Service)", quote(m.key))
		}
	}
	return ps, nil
}

// awsPrincipalARN turns an AWS principal into the caller ARN it matches.
// An account id means the account root only: ssegate has no identity
// policies through which an account could delegate to its users. AWS
// allows no wildcards inside a principal ARN, and neither do we.
func awsPrincipalARN(v string) (string, error) {
	if isAccountID(v) {
		return "arn:aws:iam::" + v + ":root", nil
	}
	parts, ok := splitARN(v)
	if !ok || parts[0] != "arn" || parts[1] == "" || (parts[2] != "iam" && parts[2] != "sts") ||
		parts[3] != "" || !isAccountID(parts[4]) || parts[5] == "" ||
		hasWildcard(v) || strings.Contains(v, "${") {
		return "", fmt.Errorf(`invalid AWS principal %s: want "*", a 12-digit account id or an IAM ARN`, quote(v))
	}
	return v, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseActions(elem string, n node, services []string) ([]string, error) {
	vals, err := n.strings(elem)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v == "*" {
			out = append(out, v)
			continue
		}
		svc, name, ok := strings.Cut(v, ":")
		if !ok || !validActionName(name) {
			return nil, fmt.Errorf(`invalid action %s: want "service:Action"`, quote(v))
		}
		known := false
		for _, s := range services {
			known = known || strings.EqualFold(svc, s)
		}
		if !known {
			return nil, fmt.Errorf("action %s names an unsupported service (allowed: %s)", quote(v), strings.Join(services, ", "))
		}
		out = append(out, strings.ToLower(v))
	}
	return out, nil
}

func validActionName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '*' || c == '?') {
			return false
		}
	}
	return true
}

func parseResources(elem string, n node) ([]arnPattern, error) {
	vals, err := n.strings(elem)
	if err != nil {
		return nil, err
	}
	out := make([]arnPattern, 0, len(vals))
	for _, v := range vals {
		if err := checkARNPattern(v); err != nil {
			return nil, err
		}
		out = append(out, newARNPattern(v))
	}
	return out, nil
}

// checkARNPattern accepts "*" or an ARN of six components; a shorter
// pattern would leave it unclear which component a wildcard covers.
func checkARNPattern(v string) error {
	if strings.Contains(v, "${") {
		return errors.New("policy variables (${...}) are not supported")
	}
	if v == "*" {
		return nil
	}
	if parts, ok := splitARN(v); !ok || parts[0] != "arn" {
		return fmt.Errorf(`invalid ARN %s: want "*" or an ARN of six components`, quote(v))
	}
	return nil
}

// matches reports whether the statement applies to req (its effect aside).
func (s *statement) matches(req *Request) bool {
	if s.principals.match(req.Principal) == s.notPrincipal {
		return false
	}
	if s.matchAction(req.Action) == s.notAction {
		return false
	}
	if s.resources != nil && s.matchResource(req.Resource) == s.notResource {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].eval(req.Context) {
			return false
		}
	}
	return true
}

// matchAction compares case-insensitively, as AWS treats action names.
func (s *statement) matchAction(action string) bool {
	for _, p := range s.actions {
		if wildcardMatch(p, action, true) {
			return true
		}
	}
	return false
}

func (s *statement) matchResource(resource string) bool {
	for i := range s.resources {
		if s.resources[i].match(resource) {
			return true
		}
	}
	return false
}
