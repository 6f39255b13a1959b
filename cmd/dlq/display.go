package main

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Everything the command prints from a DLQ goes through this file: an
// entry's fields are written by whoever failed, and a terminal obeys the
// escape sequences in them (ESC, BEL, CR, C1 controls such as U+009B,
// bidi overrides). Only show --raw prints bytes as they are.

// printable returns s safe for one line of a terminal: control and invalid
// bytes escaped as Go quotes them, cut to limit runes with an ellipsis.
func printable(s string, limit int) string {
	cut := ""
	if i := runeOffset(s, limit); i < len(s) {
		s, cut = s[:i], "…"
	}
	if isPrintableText([]byte(s), false) {
		return s + cut
	}
	q := strconv.Quote(s)
	return q[1:len(q)-1] + cut
}

// runeOffset returns the offset in s of its rune number n (an invalid
// byte counts as one), or len(s).
func runeOffset(s string, n int) int {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// printableLines returns a message of one or more lines (an error) safe
// for a terminal: each line as printable makes it, newlines kept.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		lines[i] = printable(line, len(line))
	}
	return strings.Join(lines, "\n")
}

// isPrintableText reports whether b is valid UTF-8 without control
// characters. When multiline, newlines and tabs are allowed, and a CR
// right before a newline (a CR alone moves the cursor back over the line).
func isPrintableText(b []byte, multiline bool) bool {
	if !utf8.Valid(b) {
		return false
	}
	s := string(b)
	for i, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r' && strings.HasPrefix(s[i+1:], "\n")) {
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

// safeJSON returns compact JSON (one value per line) with what JSON allows
// raw in a string but a terminal obeys written as \u escapes: DEL, C1
// controls and every other rune that is not printable. An invalid byte
// becomes \ufffd, as a JSON decoder would read it. The value read back is
// the same.
func safeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r == '\n' || r >= ' ' && r < utf8.RuneSelf && r != 0x7f || unicode.IsPrint(r):
			out = append(out, b[i:i+size]...)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				out = append(out, `\u`...)
				out = append(out, []byte(strconv.FormatUint(uint64(u)|0x10000, 16))[1:]...)
			}
		}
		i += size
	}
	return out
}
