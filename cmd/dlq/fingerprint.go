package main

import "strings"

// fingerprint masks what varies from one occurrence of an error to the
// next, so that one bug reads as one group: quoted values ("…", '…', `…`)
// become <str>, UUIDs <uuid>, hex words (0x… or hex with digits and
// letters) <hex>, numbers (signed, dotted like 1.5 or 10.0.0.7) <n>. One
// pass, no regular expressions: inspect runs it on every entry.
func fingerprint(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		wordBefore := i > 0 && isWordByte(s[i-1])
		if !wordBefore {
			if end := quotedEnd(s, i); end > 0 {
				b.WriteString("<str>")
				i = end
				continue
			}
			if isUUIDAt(s, i) {
				b.WriteString("<uuid>")
				i += 36
				continue
			}
			if end := hexWordEnd(s, i); end > 0 {
				b.WriteString("<hex>")
				i = end
				continue
			}
		}
		if isDigit(c) || (c == '-' || c == '+') && !wordBefore && i+1 < len(s) && isDigit(s[i+1]) {
			i = numberEnd(s, i+1)
			b.WriteString("<n>")
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexByte(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// quotedEnd returns the index just past a quoted value opening at i, or 0.
func quotedEnd(s string, i int) int {
	q := s[i]
	if q != '"' && q != '\'' && q != '`' {
		return 0
	}
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return 0
}

// isUUIDAt reports whether a UUID (8-4-4-4-12 hex) starts at i and ends a
// word.
func isUUIDAt(s string, i int) bool {
	if len(s)-i < 36 || i+36 < len(s) && isWordByte(s[i+36]) {
		return false
	}
	for k := range 36 {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHexByte(c) {
			return false
		}
	}
	return true
}

// hexWordEnd returns the index just past a hex word starting at i — 0x
// followed by hex digits, or hex digits with at least one digit and one
// letter — or 0.
func hexWordEnd(s string, i int) int {
	j := i
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	word := s[i:j]
	if len(word) > 2 && word[0] == '0' && (word[1] == 'x' || word[1] == 'X') && allHex(word[2:]) {
		return j
	}
	digit, letter := false, false
	for k := 0; k < len(word); k++ {
		switch {
		case isDigit(word[k]):
			digit = true
		case isHexByte(word[k]):
			letter = true
		default:
			return 0
		}
	}
	if digit && letter {
		return j
	}
	return 0
}

func allHex(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isHexByte(s[k]) {
			return false
		}
	}
	return true
}

// numberEnd returns the index past the digits from i, with any .digits
// parts that follow.
func numberEnd(s string, i int) int {
	for {
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
			i++
			continue
		}
		return i
	}
}
