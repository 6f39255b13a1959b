// Package redact hides the password of a URL the way an operator wrote
// it, for messages and records (replay's checkpoint, the command's lines).
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw as written, with its password hidden: not escaped
// again, so that a template such as {source.topic} reads as given. A URL
// that does not parse and holds an '@' (perhaps credentials) is replaced
// whole.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "(unparsable URL)"
		}
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	// The user information ends at the last '@' before the path.
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return u.Redacted()
	}
	rest := raw[scheme+3:]
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return u.Redacted()
	}
	return raw[:scheme+3] + url.UserPassword(u.User.Username(), "xxxxx").String() + rest[at:]
}
