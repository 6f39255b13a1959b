// Package redact hides the password of a URL the way an operator wrote
// it, for messages and records (replay's checkpoint, the command's lines).
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw as written, with its password hidden, and the values
// of the query parameters that name a secret (token, key, secret,
// password, signature…): not escaped again, so that a template such as
// {source.topic} reads as given. A URL that does not parse and holds an
// '@' (perhaps credentials) is replaced whole.
func URL(raw string) string {
	return hideQuery(hidePassword(raw))
}

// hidePassword returns raw with the password of its user information
// hidden.
func hidePassword(raw string) string {
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

// hideQuery returns raw with the values of its query parameters that
// name a secret hidden, the rest as written.
func hideQuery(raw string) string {
	q := strings.IndexByte(raw, '?')
	if q < 0 {
		return raw
	}
	end := len(raw)
	if h := strings.IndexByte(raw[q:], '#'); h >= 0 {
		end = q + h
	}
	params, hidden := strings.Split(raw[q+1:end], "&"), false
	for i, p := range params {
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
		if secretParam(name) {
			params[i], hidden = p[:strings.IndexByte(p, '=')+1]+"xxxxx", true
		}
	}
	if !hidden {
		return raw
	}
	return raw[:q+1] + strings.Join(params, "&") + raw[end:]
}

// secretParam reports whether a query parameter's name says that its value
// is a secret: an access token, an API key, a password, a signature.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "sig", "auth", "pass", "pwd":
		return true
	}
	for _, part := range []string{"token", "secret", "password", "passwd", "apikey", "api_key", "api-key", "signature", "credential"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}
