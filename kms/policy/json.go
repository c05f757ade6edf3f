package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// node is a JSON value as the strict reader saw it. Objects keep their
// members in order so error messages can name them as written.
type node struct {
	kind nodeKind
	str  string // string value, number literal, or "true"/"false"
	arr  []node
	obj  []member
}

type member struct {
	key string
	val node
}

type nodeKind int

const (
	kindString nodeKind = iota
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k nodeKind) String() string {
	return [...]string{"a string", "a number", "a boolean", "null", "an object", "an array"}[k]
}

// maxDepth bounds nesting. The deepest legal policy is root → Statement
// array → statement → Condition → operator → key → value array (7), so
// anything much deeper is garbage and must not cost stack.
const maxDepth = 10

var errDepth = errors.New("nesting too deep")

// readJSON reads exactly one JSON object from doc, refusing duplicate
// member names (encoding/json silently keeps the last one, which would let
// a policy say one thing to a reviewer and another to the evaluator) and
// anything after the value.
func readJSON(doc []byte) (node, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := readValue(dec, 0)
	if err != nil {
		return node{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return node{}, errors.New("unexpected data after the policy document")
	}
	return n, nil
}

func readValue(dec *json.Decoder, depth int) (node, error) {
	if depth > maxDepth {
		return node{}, errDepth
	}
	tok, err := dec.Token()
	if err != nil {
		return node{}, syntaxError(dec, err)
	}
	switch t := tok.(type) {
	case string:
		return node{kind: kindString, str: t}, nil
	case json.Number:
		return node{kind: kindNumber, str: t.String()}, nil
	case bool:
		if t {
			return node{kind: kindBool, str: "true"}, nil
		}
		return node{kind: kindBool, str: "false"}, nil
	case nil:
		return node{kind: kindNull}, nil
	case json.Delim:
		switch t {
		case '[':
			n := node{kind: kindArray}
			for dec.More() {
				v, err := readValue(dec, depth+1)
				if err != nil {
					return node{}, err
				}
				n.arr = append(n.arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return node{}, syntaxError(dec, err)
			}
			return n, nil
		case '{':
			n := node{kind: kindObject}
			seen := make(map[string]bool)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return node{}, syntaxError(dec, err)
				}
				k, ok := kt.(string)
				if !ok {
					return node{}, errors.New("invalid JSON")
				}
				if seen[k] {
					return node{}, errors.New("duplicate member " + quote(k))
				}
				seen[k] = true
				v, err := readValue(dec, depth+1)
				if err != nil {
					return node{}, err
				}
				n.obj = append(n.obj, member{key: k, val: v})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return node{}, syntaxError(dec, err)
			}
			return n, nil
		}
	}
	return node{}, errors.New("invalid JSON")
}

// syntaxError says where the JSON broke without quoting the document.
func syntaxError(dec *json.Decoder, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end of document")
	}
	return fmt.Errorf("invalid JSON near byte %d", dec.InputOffset())
}

// strings returns a string-or-array-of-strings member as a slice.
func (n node) strings(what string) ([]string, error) {
	switch n.kind {
	case kindString:
		return []string{n.str}, nil
	case kindArray:
		if len(n.arr) == 0 {
			return nil, errors.New(what + " must not be an empty array")
		}
		out := make([]string, 0, len(n.arr))
		for _, v := range n.arr {
			if v.kind != kindString {
				return nil, errors.New(what + " must hold strings, not " + v.kind.String())
			}
			out = append(out, v.str)
		}
		return out, nil
	}
	return nil, errors.New(what + " must be a string or an array of strings, not " + n.kind.String())
}

// quote shows a user-supplied string in an error message, cut short so a
// message never echoes a large part of the document back.
func quote(s string) string {
	const max = 48
	r := []rune(s)
	if len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}
