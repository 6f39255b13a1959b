package dlq

import (
	"fmt"
	"strings"
)

// expandEnv replaces ${VAR} references in s as docker compose does:
//
//	${VAR}          VAR's value; an error when VAR is unset
//	${VAR:-default} default when VAR is unset or empty
//	${VAR-default}  default when VAR is unset
//	${VAR:?message} an error saying message when VAR is unset or empty
//	${VAR?message}  an error saying message when VAR is unset
//	$$              a literal $
//
// A default may itself hold references. A $ followed by anything else is
// kept as it is. A variable whose value holds CR, LF or NUL is an error:
// such a byte would split an HTTP header or cut a name, and is nearly
// always a secret read from a file with its trailing newline. Unlike compose, which warns and substitutes an empty
// string, an unset ${VAR} without a default is an error: an empty url
// silently turns a backend off, the very mistake strict loading exists to
// catch. Write ${VAR:-} for an empty default.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("%q has no closing }", s[i:])
			}
			v, err := expandRef(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// closingBrace returns the index of the } that closes a reference whose
// body starts at from, skipping nested references, or -1.
func closingBrace(s string, from int) int {
	depth := 0
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// expandRef expands the body of one ${...} reference.
func expandRef(body string, lookup func(string) (string, bool)) (string, error) {
	n := 0
	for n < len(body) && (body[n] == '_' || body[n] >= 'A' && body[n] <= 'Z' || body[n] >= 'a' && body[n] <= 'z' || n > 0 && body[n] >= '0' && body[n] <= '9') {
		n++
	}
	name, rest := body[:n], body[n:]
	if name == "" {
		return "", fmt.Errorf("${%s}: a variable name starts with a letter or _ and holds letters, digits and _", body)
	}
	value, set := lookup(name)
	colon := strings.HasPrefix(rest, ":")
	if colon {
		rest = rest[1:]
	}
	missing := !set || colon && value == ""
	switch {
	case rest == "" && !colon:
		if !set {
			return "", fmt.Errorf("${%s}: environment variable %s is not set (write ${%s:-default} for a default)", name, name, name)
		}
		return envValue(body, name, value)
	case strings.HasPrefix(rest, "-"):
		if missing {
			return expandEnv(rest[1:], lookup)
		}
		return envValue(body, name, value)
	case strings.HasPrefix(rest, "?"):
		if !missing {
			return envValue(body, name, value)
		}
		why := "is not set"
		if set {
			why = "is empty"
		}
		if msg := rest[1:]; msg != "" {
			why += ": " + msg
		}
		return "", fmt.Errorf("${%s}: environment variable %s %s", body, name, why)
	default:
		return "", fmt.Errorf("${%s}: unsupported; use ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} or ${VAR?message}", body)
	}
}

// envValue returns the value of the variable name that the reference body
// expands to, or an error when it holds CR, LF or NUL. The value is not
// shown: it may be a secret.
func envValue(body, name, value string) (string, error) {
	if i := strings.IndexAny(value, "\r\n\x00"); i >= 0 {
		return "", fmt.Errorf("${%s}: environment variable %s holds %s at byte %d: CR, LF and NUL are not allowed in a value (a trailing newline from a file?)",
			body, name, controlName(value[i]), i)
	}
	return value, nil
}
