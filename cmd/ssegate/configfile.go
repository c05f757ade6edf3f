package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Config file (--config FILE or SSEGATE_CONFIG): one `name = value` per
// line, where name is a serve flag's long name without dashes or one of
// the environment-only settings below; whole-line `#` comments, blank
// lines, and an optional trailing ` # comment` after an unquoted value.
// A value may be "double-quoted" (Go escapes) or 'single-quoted'
// (verbatim). The precedence is flag > env > file > default.

// envOnlySettings can be set in the environment (SSEGATE_ + upper case)
// or in a config file, never as flags: a flag's value shows in process
// listings. Those in secretSettings are masked by --print-config and make
// a config file that holds them subject to the 0600 rule.
var envOnlySettings = []string{
	"access-key", "secret-key",
	"backend-access-key", "backend-secret-key",
	"kms-access-key", "kms-secret-key",
	"master-key",
}

var secretSettings = map[string]bool{
	"secret-key": true, "backend-secret-key": true, "kms-secret-key": true, "master-key": true,
}

// Where a setting's effective value came from, as --print-config shows it.
const (
	sourceDefault = "default"
	sourceFile    = "file"
	sourceEnv     = "env"
	sourceFlag    = "flag"
)

// fileValue is one setting read from a config file.
type fileValue struct {
	value string
	line  int
}

// readConfigFile parses path. known reports whether a name may appear in
// it. A file that holds a secret must not be readable by group or others,
// as for credentials.json and master.key.
func readConfigFile(path string, known func(string) bool) (map[string]fileValue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: config file: %v", ErrConfig, err)
	}
	defer f.Close()
	vals, err := parseConfigFile(path, f, known)
	if err != nil {
		return nil, err
	}
	for name := range vals {
		if !isSecretSetting(name) {
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("%w: config file: %v", ErrConfig, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%w: %s holds %s but is readable by others (mode %v); chmod 600 it",
				ErrConfig, path, name, fi.Mode().Perm())
		}
		break
	}
	return vals, nil
}

// errLineTooLong bounds what one line may hold; no setting is near it.
var errLineTooLong = errors.New("line too long")

// parseConfigFile reads `name = value` lines from r; name (the file name)
// and the line number prefix every error. Errors never quote a value:
// it may be a secret.
func parseConfigFile(name string, r io.Reader, known func(string) bool) (map[string]fileValue, error) {
	vals := map[string]fileValue{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: %s:%d: "+format, append([]any{ErrConfig, name, n}, a...)...)
		}
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, bad("want name = value")
		}
		if strings.HasPrefix(key, "-") {
			return nil, bad("%q: write the name without dashes", key)
		}
		if key == "config" || key == "print-config" {
			return nil, bad("%s cannot be set in a config file", key)
		}
		if !known(key) {
			return nil, bad("unknown setting %q", key)
		}
		if prev, dup := vals[key]; dup {
			return nil, bad("%s is already set on line %d", key, prev.line)
		}
		v, err := unquoteValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, bad("%s: %v", key, err)
		}
		vals[key] = fileValue{value: v, line: n}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = errLineTooLong
		}
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrConfig, name, n+1, err)
	}
	return vals, nil
}

// unquoteValue strips optional quotes and, from an unquoted value, a
// trailing comment introduced by whitespace and '#'.
func unquoteValue(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		end := closingQuote(s)
		if end < 0 {
			return "", errors.New("unterminated or malformed double-quoted value")
		}
		v, err := strconv.Unquote(s[:end+1])
		if err != nil || !isComment(s[end+1:]) {
			return "", errors.New("malformed double-quoted value")
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 || !isComment(s[end+2:]) {
			return "", errors.New("unterminated or malformed single-quoted value")
		}
		return s[1 : end+1], nil
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			s = strings.TrimSpace(s[:i])
			break
		}
	}
	if strings.ContainsAny(s, `"'`) {
		return "", errors.New("quotes only around the whole value")
	}
	return s, nil
}

// closingQuote returns the index of the '"' that ends the Go string
// literal starting at s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// isComment reports whether what follows a quoted value is nothing or a
// comment.
func isComment(rest string) bool {
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasPrefix(rest, "#")
}

// formatValue writes v so that parseConfigFile reads it back unchanged.
func formatValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t#\"'\\") || strings.TrimSpace(v) != v || !strconv.CanBackquote(v) {
		return strconv.Quote(v)
	}
	return v
}

// setting is one line of --print-config.
type setting struct {
	name   string
	value  string
	source string
	secret bool
}

// printConfig writes the effective configuration as a config file: every
// setting with its source; secrets as comments with the value masked
// (the mask does not depend on the value, not even its length).
func printConfig(w io.Writer, c Config) error {
	var b strings.Builder
	b.WriteString("# ssegate effective configuration: `name = value  # source`, where source is\n")
	b.WriteString("# flag, env (SSEGATE_*), file (--config) or default. Secrets are masked; the\n")
	b.WriteString("# rest of this output is itself a valid --config file.\n")
	if c.configPath != "" {
		fmt.Fprintf(&b, "# config file: %s\n", c.configPath)
	}
	ss := slices.Clone(c.settings)
	slices.SortFunc(ss, func(a, b setting) int { return strings.Compare(a.name, b.name) })
	for _, s := range ss {
		switch {
		case s.secret && s.value != "":
			fmt.Fprintf(&b, "# %s = ****  # %s\n", s.name, s.source)
		case s.secret:
			fmt.Fprintf(&b, "# %s = (not set)\n", s.name)
		default:
			fmt.Fprintf(&b, "%s = %s  # %s\n", s.name, formatValue(s.value), s.source)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
