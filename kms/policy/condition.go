package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// baseOp is a condition operator without its set prefix or IfExists.
type baseOp int

const (
	opStringEquals baseOp = iota
	opStringEqualsIgnoreCase
	opStringLike
	opArnLike // ArnEquals and ArnLike behave the same in AWS: both take wildcards
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opBool
	opNull
)

// operators maps each supported operator name to its base comparison and
// whether it is negated (matches when no policy value matches).
var operators = map[string]struct {
	op      baseOp
	negated bool
}{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"Null":                      {opNull, false},
}

type setQualifier int

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// condition is one (operator, key, values) triple of a Condition block.
type condition struct {
	op       baseOp
	negated  bool
	set      setQualifier
	ifExists bool
	key      string // lower-case
	values   []string
	arns     []arnPattern // opArnLike
	numbers  []float64    // numeric operators
	nullWant bool         // opNull: true means "the key must be absent"
}

// parseConditions parses a statement's Condition block into a flat list;
// every entry must hold (AND).
func parseConditions(n node, opts *ParseOptions) ([]condition, error) {
	if n.kind != kindObject {
		return nil, fmt.Errorf("Condition must be an object, not %s", n.kind)
	}
	if len(n.obj) == 0 {
		// An empty block would silently widen the statement.
		return nil, errors.New("Condition must not be empty")
	}
	var out []condition
	for _, m := range n.obj {
		name := m.key
		set := setNone
		switch {
		case strings.HasPrefix(name, "ForAnyValue:"):
			set, name = setAnyValue, strings.TrimPrefix(name, "ForAnyValue:")
		case strings.HasPrefix(name, "ForAllValues:"):
			set, name = setAllValues, strings.TrimPrefix(name, "ForAllValues:")
		}
		ifExists := false
		if base, ok := strings.CutSuffix(name, "IfExists"); ok {
			ifExists, name = true, base
		}
		def, ok := operators[name]
		if !ok {
			return nil, fmt.Errorf("unsupported condition operator %s", quote(m.key))
		}
		if def.op == opNull && (ifExists || set != setNone) {
			return nil, fmt.Errorf("condition operator %s is not allowed: Null takes no set qualifier or IfExists", quote(m.key))
		}
		if m.val.kind != kindObject || len(m.val.obj) == 0 {
			return nil, fmt.Errorf("condition operator %s must map condition keys to values", quote(m.key))
		}
		for _, kv := range m.val.obj {
			if !conditionKeyAllowed(kv.key, opts.ConditionKeys) {
				return nil, fmt.Errorf("unsupported condition key %s", quote(kv.key))
			}
			c := condition{op: def.op, negated: def.negated, set: set, ifExists: ifExists, key: strings.ToLower(kv.key)}
			if err := c.setValues(kv.val); err != nil {
				return nil, fmt.Errorf("condition %s on %s: %w", quote(m.key), quote(kv.key), err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionKeyAllowed compares case-insensitively, as AWS treats condition
// key names; an allowed entry ending in ':' or '/' is a prefix that needs a
// non-empty suffix ("kms:EncryptionContext:" + context key).
func conditionKeyAllowed(key string, allowed []string) bool {
	for _, a := range allowed {
		if strings.HasSuffix(a, ":") || strings.HasSuffix(a, "/") {
			if len(key) > len(a) && strings.EqualFold(key[:len(a)], a) {
				return true
			}
		} else if strings.EqualFold(key, a) {
			return true
		}
	}
	return false
}

func (c *condition) setValues(n node) error {
	var raw []node
	switch n.kind {
	case kindString, kindNumber, kindBool:
		raw = []node{n}
	case kindArray:
		if len(n.arr) == 0 {
			return errors.New("no values")
		}
		raw = n.arr
	default:
		return fmt.Errorf("values must be strings, numbers or booleans, not %s", n.kind)
	}
	for _, v := range raw {
		switch v.kind {
		case kindString, kindNumber, kindBool:
		default:
			return fmt.Errorf("values must be strings, numbers or booleans, not %s", v.kind)
		}
		if strings.Contains(v.str, "${") {
			return errors.New("policy variables (${...}) are not supported")
		}
		c.values = append(c.values, v.str)
	}
	switch c.op {
	case opNull, opBool:
		for _, v := range c.values {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return fmt.Errorf("value %s is not true or false", quote(v))
			}
		}
		if c.op == opNull {
			if len(c.values) != 1 {
				return errors.New("Null takes a single value")
			}
			c.nullWant = strings.EqualFold(c.values[0], "true")
		}
	case opArnLike:
		for _, v := range c.values {
			if err := checkARNPattern(v); err != nil {
				return err
			}
			c.arns = append(c.arns, newARNPattern(v))
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		for _, v := range c.values {
			f, ok := parseNumber(v)
			if !ok {
				return fmt.Errorf("value %s is not a number", quote(v))
			}
			c.numbers = append(c.numbers, f)
		}
	}
	return nil
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// maxContextSets bounds how many differently-cased context keys one
// condition key collects without allocating; more spill to the heap.
const maxContextSets = 4

// lookup collects the values of every context key equal to key ignoring
// case (AWS compares condition key names case-insensitively, and a caller
// may pass keys differing only in case, e.g. two encryption context keys).
// Keys with no values count as absent.
func lookup(ctx map[string][]string, key string, buf [][]string) [][]string {
	for k, vs := range ctx {
		if len(vs) > 0 && foldEqual(k, key) {
			buf = append(buf, vs)
		}
	}
	return buf
}

// eval reports whether the condition holds for ctx, following AWS:
// without a set qualifier a multi-valued key matches if any value does; a
// missing key makes positive operators false and negated ones true
// (…IfExists: true); ForAnyValue needs at least one value, ForAllValues
// holds for a missing key or an empty set.
// foldEqual is strings.EqualFold with a shortcut for the common case.
// Lengths alone can't decide: Unicode folding pairs strings of different
// byte lengths (K, U+212A, folds to k), and a key that folds to the
// policy's must not slip past a Deny. Two ASCII strings of different
// lengths, though, are never equal.
func foldEqual(a, b string) bool {
	if len(a) != len(b) && isASCII(a) && isASCII(b) {
		return false
	}
	return strings.EqualFold(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (c *condition) eval(ctx map[string][]string) bool {
	var buf [maxContextSets][]string
	sets := lookup(ctx, c.key, buf[:0])
	present := len(sets) > 0
	if c.op == opNull {
		return present != c.nullWant
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAnyValue:
			return false
		case c.set == setAllValues:
			return true
		}
		return c.negated
	}
	switch c.set {
	case setAllValues:
		// Every context value must satisfy the operator.
		for _, vs := range sets {
			for _, v := range vs {
				if c.anyPolicyValue(v) == c.negated {
					return false
				}
			}
		}
		return true
	case setAnyValue:
		for _, vs := range sets {
			for _, v := range vs {
				if c.anyPolicyValue(v) != c.negated {
					return true
				}
			}
		}
		return false
	}
	// Single-valued operator: any (context value, policy value) pair
	// matching decides; a negated operator holds when none does.
	for _, vs := range sets {
		for _, v := range vs {
			if c.anyPolicyValue(v) {
				return !c.negated
			}
		}
	}
	return c.negated
}

// anyPolicyValue reports whether context value v matches any of the
// policy's values under the base (non-negated) operator.
func (c *condition) anyPolicyValue(v string) bool {
	switch c.op {
	case opStringEquals:
		for _, p := range c.values {
			if p == v {
				return true
			}
		}
	case opStringEqualsIgnoreCase:
		for _, p := range c.values {
			if strings.EqualFold(p, v) {
				return true
			}
		}
	case opStringLike:
		for _, p := range c.values {
			if wildcardMatch(p, v, false) {
				return true
			}
		}
	case opArnLike:
		for i := range c.arns {
			if c.arns[i].match(v) {
				return true
			}
		}
	case opBool:
		for _, p := range c.values {
			if strings.EqualFold(p, v) {
				return true
			}
		}
	default: // numeric
		f, ok := parseNumber(v)
		if !ok {
			// A context value that isn't a number matches no numeric
			// policy value (so NumericNotEquals holds for it).
			return false
		}
		for _, p := range c.numbers {
			if numericHolds(c.op, f, p) {
				return true
			}
		}
	}
	return false
}

func numericHolds(op baseOp, ctx, pol float64) bool {
	switch op {
	case opNumericEquals:
		return ctx == pol
	case opNumericLessThan:
		return ctx < pol
	case opNumericLessThanEquals:
		return ctx <= pol
	case opNumericGreaterThan:
		return ctx > pol
	case opNumericGreaterThanEquals:
		return ctx >= pol
	}
	return false
}
