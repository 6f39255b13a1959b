package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s safe for one line of a terminal: control and invalid
// bytes escaped as Go quotes them, cut to limit runes with an ellipsis.
func printable(s string, limit int) string {
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	if isPrintableText([]byte(s), false) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// isPrintableText reports whether b is valid UTF-8 without control
// characters (newlines and tabs allowed when multiline).
func isPrintableText(b []byte, multiline bool) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// payloadText returns a payload as text when it is printable UTF-8, and
// as a hex dump otherwise.
func payloadText(b []byte) (text string, isHex bool) {
	if isPrintableText(b, true) {
		return string(b), false
	}
	return strings.TrimSuffix(hex.Dump(b), "\n"), true
}
