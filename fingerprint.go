package dlq

import "strings"

// FingerprintVersion is the version of the masking [Fingerprint] does. A
// later version may mask more or differently (a new kind of token, a rule
// made stricter), and then gives another fingerprint for the same error
// text: whatever stores or compares fingerprints (a storm brake keyed by
// fingerprint, a metric labelled with one, a saved inspect report) must
// compare them within one version, and keep the version beside them.
const FingerprintVersion = 1

// The placeholders Fingerprint writes, one per masked token.
const (
	maskStr   = "<str>"
	maskUUID  = "<uuid>"
	maskTime  = "<time>"
	maskIP    = "<ip>"
	maskEmail = "<email>"
	maskJWT   = "<jwt>"
	maskHex   = "<hex>"
	maskID    = "<id>"
	maskDur   = "<dur>"
	maskNum   = "<n>"
)

var placeholders = [...]string{maskStr, maskUUID, maskTime, maskIP, maskEmail, maskJWT, maskHex, maskID, maskDur, maskNum}

// Fingerprint returns an error text with what varies from one occurrence
// of a bug to the next masked, so that the texts one bug produces share
// one fingerprint: "charge ch_3PqX9a2b failed after 3 attempts" and
// "charge ch_9ZzQ1b7c failed after 12 attempts" both give
// "charge <id> failed after <n> attempts". Each varying token becomes one
// placeholder, never several:
//
//   - <str>: a quoted value, "…", '…' or `…` (a quote right after a letter,
//     as in can't, opens none);
//   - <uuid>: a UUID; <time>: an RFC 3339 time or date, or a time of day
//     (15:04:05); <ip>: an IPv4 or IPv6 address, with its port when it has
//     one (10.0.0.7:5432, [::1]:6379); <email>: an e-mail address;
//     <jwt>: a JSON Web Token;
//   - <hex>: 0x followed by hex digits, a word of hex digits with a digit
//     and a letter (a3f9c2e1), or of eight letters a-f or more (deadbeef);
//   - <id>: any other word that mixes letters and digits (ch_3PqX9a2b,
//     ord_01HX3K9Q, base62 ids), and a word of letters that reads as drawn
//     at random rather than written: eight letters or more whose case
//     switches as no word's or identifier's does, or with letter pairs
//     rare in English (BJDkgqFWKTGzrtePWgbLkb), and the tail of a
//     prefixed id in mixed case or of such letters (cus_AbCdEfGh,
//     req_POUZYCCXC); a name of up to six letters followed by a number
//     keeps the name (user42 gives user<n>, utf8 utf<n>, v1.2.3 v<n>);
//   - <dur>: a duration (30s, 1.5ms, 1h30m); <n>: a number, signed or
//     with decimals or dots (-1.5, 1.2.3), a unit after it kept (10MB
//     gives <n>MB).
//
// Other words are kept: plain words, error codes (ECONNREFUSED), field
// names (user_id, max_connections) and identifiers (NullPointerException,
// findUserById), since they tell one bug from another. A short id of
// letters only can read as a word and be kept: of random base62 ids,
// about 2 in 10,000 prefixed ones of 8 characters (ord_xxxxxxxx) and 1 in
// 10 bare ones, none in a million prefixed ones of 14 or more, 7 in
// 100,000 bare ones of 22 (dlq inspect counts such a rare fingerprint in
// the group it is an instance of).
//
// Fingerprint reads s once, each byte a bounded number of times, without
// regular expressions, and allocates only its result (nothing when
// nothing is masked). It is idempotent (a fingerprint is its own
// fingerprint), never splits a UTF-8 sequence, and keeps everything it
// does not mask byte for byte.
//
// The masking may change between versions; see [FingerprintVersion].
func Fingerprint(s string) string {
	f := fingerprinter{s: s, maskEnd: -1}
	for i := 0; i < len(s); {
		i = f.step(i)
	}
	if !f.masked {
		return s
	}
	f.b.WriteString(s[f.copied:])
	return f.b.String()
}

// fingerprinter is one Fingerprint call: the text, and the result written
// lazily (nothing is copied until the first mask).
type fingerprinter struct {
	s       string
	b       strings.Builder
	masked  bool
	copied  int // s[:copied] is written to b
	maskEnd int // where the last mask ended, or -1
	closing [len(quotes)]struct {
		known    bool
		from, at int // the first closing quote after from is at (-1: none)
	}
}

// replace writes s[copied:from] and mask in place of s[from:to].
func (f *fingerprinter) replace(from, to int, mask string) {
	if !f.masked {
		f.masked = true
		f.b.Grow(len(f.s) + 8)
	}
	f.b.WriteString(f.s[f.copied:from])
	f.b.WriteString(mask)
	f.copied, f.maskEnd = to, to
}

// afterWord reports whether i follows a word byte or a placeholder (one
// written by this call, or one already in s): nothing begins there, and a
// fingerprint reads the same the second time.
func (f *fingerprinter) afterWord(i int) bool {
	if i == 0 {
		return false
	}
	if i == f.maskEnd || isWordByte(f.s[i-1]) {
		return true
	}
	if f.s[i-1] != '>' {
		return false
	}
	for _, p := range placeholders {
		if strings.HasSuffix(f.s[:i], p) {
			return true
		}
	}
	return false
}

// wordAt reports whether a word byte or a placeholder starts at j: a token
// that ends right before j is glued to more text and is not one.
func wordAt(s string, j int) bool {
	if j >= len(s) {
		return false
	}
	if isWordByte(s[j]) {
		return true
	}
	if s[j] != '<' {
		return false
	}
	for _, p := range placeholders {
		if strings.HasPrefix(s[j:], p) {
			return true
		}
	}
	return false
}

// step masks the token that starts at i, if any, and returns where the
// next step starts.
func (f *fingerprinter) step(i int) int {
	s := f.s
	if f.afterWord(i) {
		return i + 1
	}
	switch c := s[i]; {
	case c == '"' || c == '\'' || c == '`':
		if end := f.quotedEnd(i); end > 0 {
			f.replace(i, end, maskStr)
			return end
		}
	case c == '-' || c == '+':
		if i+1 < len(s) && isDigit(s[i+1]) {
			if n := numberAt(s, i+1); n.whole {
				f.replace(i, n.maskEnd, n.mask)
				return n.end
			}
		}
	case c == '[':
		if end := bracketedIPv6End(s, i); end > 0 {
			f.replace(i, end, maskIP)
			return end
		}
	case c == ':':
		if end := ipv6End(s, i); end > 0 {
			f.replace(i, end, maskIP)
			return end
		}
	case isWordByte(c):
		return f.word(i)
	}
	return i + 1
}

// word masks the token that starts with the word byte at i, or keeps the
// word, and returns where it ends.
func (f *fingerprinter) word(i int) int {
	s := f.s
	if end, mask := special(s, i); end > 0 {
		f.replace(i, end, mask)
		return end
	}
	if isDigit(s[i]) {
		n := numberAt(s, i)
		if n.whole || n.maskEnd > i {
			f.replace(i, n.maskEnd, n.mask)
			return n.end
		}
	}
	end := wordEnd(s, i)
	from, to, mask := classifyWord(s, i, end)
	if mask != "" {
		f.replace(from, to, mask)
		return max(to, end)
	}
	return end
}

// special returns the end and the placeholder of a token that starts at i
// and spans more than a word: a UUID, a time, an address, a token.
func special(s string, i int) (int, string) {
	c := s[i]
	if isDigit(c) {
		if end := timeEnd(s, i); end > 0 {
			return end, maskTime
		}
		if end := ipv4End(s, i); end > 0 {
			return end, maskIP
		}
		if c == '0' && i+2 < len(s) && s[i+1]|0x20 == 'x' && isHexByte(s[i+2]) {
			j := i + 2
			for j < len(s) && isHexByte(s[j]) {
				j++
			}
			if !wordAt(s, j) {
				return j, maskHex
			}
		}
	}
	if isHexByte(c) {
		if isUUIDAt(s, i) {
			return i + 36, maskUUID
		}
		if end := ipv6End(s, i); end > 0 {
			return end, maskIP
		}
	}
	if end := emailEnd(s, i); end > 0 {
		return end, maskEmail
	}
	if end := jwtEnd(s, i); end > 0 {
		return end, maskJWT
	}
	return 0, ""
}

// number is what numberAt found.
type number struct {
	whole   bool   // a number, duration or number with a unit, ending its word
	maskEnd int    // s[start:maskEnd] becomes mask (maskEnd == start: nothing)
	mask    string // <n> or <dur>
	end     int    // where the token ends (past a unit kept)
}

// numberAt reads the number at i: digits with any .digits parts. Ending
// its word, it is <n>; followed by a unit, <n> with the unit kept, or a
// <dur> for a duration (one or more number-unit pairs: 1h30m); glued to
// other letters or digits, only its dotted part before the last word is
// <n> (1.2.x3 gives <n>.x3), and a plain word is left to classifyWord.
func numberAt(s string, i int) number {
	j, lastDot := i, -1
	for {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			lastDot = j
			j++
			continue
		}
		break
	}
	if !wordAt(s, j) {
		return number{whole: true, maskEnd: j, mask: maskNum, end: j}
	}
	if w := wordEnd(s, i); lastDot < 0 && w-i >= 6 && allHex(s[i:w]) {
		return number{maskEnd: i} // a hex word that starts with digits
	}
	u := j
	for u < len(s) && isLetter(s[u]) {
		u++
	}
	switch unit := s[j:u]; {
	case !wordAt(s, u) && isUnit(unit):
		return number{whole: true, maskEnd: j, mask: maskNum, end: u}
	case isTimeUnit(unit):
		if end := durationEnd(s, u); end > 0 {
			return number{whole: true, maskEnd: end, mask: maskDur, end: end}
		}
	}
	if lastDot > 0 {
		return number{maskEnd: lastDot, mask: maskNum, end: lastDot}
	}
	return number{maskEnd: i}
}

// durationEnd returns the end of a duration whose first number and unit
// end at i, or 0: more number-unit pairs may follow, each unit a time
// unit, up to the end of the word.
func durationEnd(s string, i int) int {
	for wordAt(s, i) {
		if !isDigit(s[i]) {
			return 0
		}
		for i < len(s) && (isDigit(s[i]) || s[i] == '.' && i+1 < len(s) && isDigit(s[i+1])) {
			i++
		}
		u := i
		for u < len(s) && isLetter(s[u]) {
			u++
		}
		if !isTimeUnit(s[i:u]) {
			return 0
		}
		i = u
	}
	return i
}

func isTimeUnit(u string) bool {
	switch u {
	case "ns", "us", "ms", "s", "m", "h", "d":
		return true
	}
	return false
}

// isUnit reports whether u, after a number, is a unit kept beside <n>:
// a size, a factor, an ordinal, a status class (5xx).
func isUnit(u string) bool {
	if len(u) > 4 {
		return false
	}
	var lower [4]byte
	for k := range len(u) {
		lower[k] = u[k] | 0x20
	}
	switch string(lower[:len(u)]) {
	case "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "k", "x", "xx", "th", "st", "nd", "rd", "px":
		return true
	}
	return false
}

// classifyWord returns what to mask in the word s[i:end] (letters, digits
// and underscores): s[from:to] by mask, or mask "" to keep it.
func classifyWord(s string, i, end int) (from, to int, mask string) {
	w := s[i:end]
	var digits, lower, upper, unders int
	for k := 0; k < len(w); k++ {
		switch c := w[k]; {
		case isDigit(c):
			digits++
		case c >= 'a' && c <= 'z':
			lower++
		case c >= 'A' && c <= 'Z':
			upper++
		default:
			unders++
		}
	}
	letters := lower + upper
	oneCase := lower == 0 || upper == 0
	switch {
	case letters == 0:
		if digits > 0 {
			return i, end, maskNum
		}
	case digits > 0:
		if oneCase && allHex(w) {
			return i, end, maskHex
		}
		if k := nameLength(w); k > 0 {
			to := end
			for to+1 < len(s) && s[to] == '.' && allDigits(s[to+1:wordEnd(s, to+1)]) {
				to = wordEnd(s, to+1) // v1.2.3: one number
			}
			return i + k, to, maskNum
		}
		return i, idEnd(s, end), maskID
	case oneCase && len(w) >= 8 && allHex(w):
		return i, end, maskHex
	case unders > 0:
		// A prefixed id (cus_AbCdEfGh) unless its tail is written as a
		// field name or a code is (user_account, ERR_TIMEOUT).
		cut := strings.LastIndexByte(w, '_')
		if tail := w[cut+1:]; len(tail) >= 6 && !writtenTail(w[:cut], tail) {
			return i, idEnd(s, end), maskID
		}
	case len(w) >= 8 && !oneCaseOrCapitalized(w) && !camelCase(w):
		return i, idEnd(s, end), maskID
	}
	return 0, 0, ""
}

// nameLength returns the length of the name in a word that is a name of up
// to six letters (lower case, upper case or capitalized) followed by
// digits only, or 0.
func nameLength(w string) int {
	k := 0
	for k < len(w) && isLetter(w[k]) {
		k++
	}
	if k == 0 || k > 6 || !allDigits(w[k:]) || !oneCaseOrCapitalized(w[:k]) {
		return 0
	}
	return k
}

// idEnd returns the end of an <id> that ends its word at end, with the
// = padding of a base64 token after it.
func idEnd(s string, end int) int {
	j := end
	for j < len(s) && j-end < 2 && s[j] == '=' {
		j++
	}
	if j > end && !wordAt(s, j) {
		return j
	}
	return end
}

// oneCaseOrCapitalized reports whether the letters of w (letters and
// underscores) are all lower case, all upper case, or an upper-case letter
// followed by lower-case ones: how words and codes are written.
func oneCaseOrCapitalized(w string) bool {
	lower, upper := false, false
	for k := 1; k < len(w); k++ {
		switch c := w[k]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	first := w[0]
	firstUpper := first >= 'A' && first <= 'Z'
	return !upper || !lower && (firstUpper || !isLetter(first))
}

// camelCase reports whether w (letters only) reads as an identifier in
// camel or Pascal case (NullPointerException, getHTTPResponse,
// findUserById) rather than as letters drawn at random (aZkPqXyb): at most
// one upper-case run in the middle followed by a single lower-case letter,
// and at most two letter pairs rare in English.
func camelCase(w string) bool {
	short := 0
	for k := 0; k < len(w); {
		if !(w[k] >= 'A' && w[k] <= 'Z') {
			k++
			continue
		}
		for k < len(w) && w[k] >= 'A' && w[k] <= 'Z' {
			k++
		}
		n := 0
		for k < len(w) && w[k] >= 'a' && w[k] <= 'z' {
			k, n = k+1, n+1
		}
		if n == 1 && k < len(w) {
			short++
		}
	}
	return short <= 1 && rarePairs(w) <= 2
}

// writtenTail reports whether the tail of a word with underscores (the
// letters after the last one) is written as a word is in a field name or a
// code: in lower case (user_account), or in upper case after a head without
// lower-case letters (ERR_TIMEOUT), with at most one letter pair rare in
// English. A tail in mixed or capitalized case, or of random letters,
// makes the word a prefixed id.
func writtenTail(head, tail string) bool {
	lower, upper := false, false
	for k := 0; k < len(tail); k++ {
		lower = lower || tail[k] >= 'a' && tail[k] <= 'z'
		upper = upper || tail[k] >= 'A' && tail[k] <= 'Z'
	}
	headLower := false
	for k := 0; k < len(head); k++ {
		headLower = headLower || head[k] >= 'a' && head[k] <= 'z'
	}
	return (!upper || !lower && !headLower) && rarePairs(tail) <= 1
}

// rarePairs counts the adjacent letter pairs of w, in any case, that are
// rare in English words: random letters have many (a third of the pairs
// of 22 random letters), words and identifiers next to none.
func rarePairs(w string) int {
	n := 0
	for k := 1; k < len(w); k++ {
		a, b := w[k-1]|0x20, w[k]|0x20
		if a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z' && rarePair[a-'a']>>(b-'a')&1 == 1 {
			n++
		}
	}
	return n
}

// rarePair[a] has bit b set when the letter pair a, b is rare in English
// words: it occurs in fewer than three of the 5,661 lower-case words of
// three letters or more that appear ten times or more in the comments of
// Go 1.26's standard library (its source, without tests, testdata and
// vendored code). 256 of the 676 pairs are rare; qu, th and st are not,
// qx, fk and zj are.
var rarePair = [26]uint32{
	0x0014291, 0x2c134e0, 0x2800200, 0x2810482, 0x2000000, 0x2e13642, 0x2e1062a, 0x2e126c2, 0x1510380,
	0x3ebbfee, 0x2a3468a, 0x2811280, 0x3e302c0, 0x2800000, 0x2010280, 0x2a12202, 0x3efffff, 0x2810200,
	0x2a00200, 0x0010600, 0x1610680, 0x3ffaeca, 0x3f91666, 0x3d77eca, 0x1b306eb, 0x1ffbeee,
}

// quotedEnd returns the index just past a quoted value opening at i, or 0
// when it does not close. Where the next closing quote of a kind is (or
// that there is none) is remembered, so that a text of quotes that never
// close is scanned once, not once per quote.
func (f *fingerprinter) quotedEnd(i int) int {
	k := strings.IndexByte(quotes, f.s[i])
	m := &f.closing[k]
	if !m.known || i < m.from || m.at >= 0 && i >= m.at {
		m.known, m.from, m.at = true, i, closingQuote(f.s, i+1, f.s[i])
	}
	if m.at < 0 {
		return 0
	}
	return m.at + 1
}

const quotes = "\"'`"

// closingQuote returns the index of the first quote q at or after j that
// closes a value, or -1: one not escaped by an odd number of backslashes
// (there are no escapes between backticks), and for a single quote one not
// followed by a letter (it's).
func closingQuote(s string, j int, q byte) int {
	for ; j < len(s); j++ {
		if s[j] != q || q == '\'' && wordAt(s, j+1) {
			continue
		}
		if q != '`' {
			n := 0
			for k := j - 1; k >= 0 && s[k] == '\\'; k-- {
				n++
			}
			if n%2 == 1 {
				continue
			}
		}
		return j
	}
	return -1
}

// isUUIDAt reports whether a UUID (8-4-4-4-12 hex) starts at i and ends a
// word.
func isUUIDAt(s string, i int) bool {
	if len(s)-i < 36 || wordAt(s, i+36) {
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

// timeEnd returns the end of a time at i, or 0: an RFC 3339 date with an
// optional time (T or a space between) and zone, or a time of day
// (15:04, 15:04:05.000).
func timeEnd(s string, i int) int {
	j := i
	if digitsAt(s, j, 4) && byteAt(s, j+4) == '-' && digitsAt(s, j+5, 2) && byteAt(s, j+7) == '-' && digitsAt(s, j+8, 2) {
		j += 10
		if c := byteAt(s, j); (c == 'T' || c == ' ') && digitsAt(s, j+1, 2) && byteAt(s, j+3) == ':' {
			if end := clockEnd(s, j+1); end > 0 {
				j = zoneEnd(s, end)
			}
		}
	} else if end := clockEnd(s, j); end > 0 {
		j = end
	} else {
		return 0
	}
	if wordAt(s, j) {
		return 0
	}
	return j
}

// clockEnd returns the end of hh:mm, hh:mm:ss or hh:mm:ss.fff at i, or 0.
func clockEnd(s string, i int) int {
	if !digitsAt(s, i, 2) || byteAt(s, i+2) != ':' || !digitsAt(s, i+3, 2) || s[i] > '2' || s[i+3] > '5' {
		return 0
	}
	j := i + 5
	if byteAt(s, j) == ':' && digitsAt(s, j+1, 2) {
		j += 3
		if byteAt(s, j) == '.' && isDigit(byteAt(s, j+1)) {
			j++
			for j < len(s) && isDigit(s[j]) {
				j++
			}
		}
	}
	return j
}

// zoneEnd returns the end of a zone (Z, +01:00, -0700) at i, or i.
func zoneEnd(s string, i int) int {
	switch byteAt(s, i) {
	case 'Z':
		return i + 1
	case '+', '-':
		if digitsAt(s, i+1, 2) {
			if byteAt(s, i+3) == ':' && digitsAt(s, i+4, 2) {
				return i + 6
			}
			if digitsAt(s, i+3, 2) {
				return i + 5
			}
		}
	}
	return i
}

// ipv4End returns the end of a dotted IPv4 address at i, with its :port,
// or 0.
func ipv4End(s string, i int) int {
	j := i
	for part := range 4 {
		if part > 0 {
			if byteAt(s, j) != '.' {
				return 0
			}
			j++
		}
		v, k := 0, j
		for k < len(s) && isDigit(s[k]) && k-j < 4 {
			v = v*10 + int(s[k]-'0')
			k++
		}
		if k == j || k-j > 3 || v > 255 {
			return 0
		}
		j = k
	}
	if byteAt(s, j) == ':' && isDigit(byteAt(s, j+1)) {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k-j-1 <= 5 {
			j = k
		}
	}
	if wordAt(s, j) || byteAt(s, j) == '.' && isDigit(byteAt(s, j+1)) {
		return 0
	}
	return j
}

// ipv6End returns the end of an IPv6 address at i (hex groups and colons,
// with :: or eight groups, and a digit), or 0. It is not looked for right
// after a colon, so that a run of colons is scanned once.
func ipv6End(s string, i int) int {
	if i > 0 && s[i-1] == ':' {
		return 0
	}
	j, colons, group, digit, double := i, 0, 0, false, false
scan:
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case c == ':':
			if j > i && s[j-1] == ':' {
				if double {
					return 0
				}
				double = true
			}
			colons++
			group = 0
		case isHexByte(c):
			if group++; group > 4 {
				return 0
			}
			digit = digit || isDigit(c)
		default:
			break scan
		}
	}
	if j > i+1 && s[j-1] == ':' && s[j-2] != ':' {
		j-- // a colon after the address ends the sentence's part
		colons--
	}
	if !digit || colons < 2 || !double && colons != 7 || wordAt(s, j) {
		return 0
	}
	return j
}

// bracketedIPv6End returns the end of [IPv6] or [IPv6]:port at i, or 0.
func bracketedIPv6End(s string, i int) int {
	end := ipv6End(s, i+1)
	if end == 0 || byteAt(s, end) != ']' {
		return 0
	}
	j := end + 1
	if byteAt(s, j) == ':' && isDigit(byteAt(s, j+1)) {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if wordAt(s, j) {
		return 0
	}
	return j
}

// emailEnd returns the end of an e-mail address at i, or 0. It is looked
// for only where a local part begins, so that each byte is scanned once.
func emailEnd(s string, i int) int {
	if i > 0 && isLocalByte(s[i-1]) {
		return 0
	}
	at := i
	for at < len(s) && isLocalByte(s[at]) {
		at++
	}
	if byteAt(s, at) != '@' {
		return 0
	}
	j, labels := at+1, 0
	for {
		k := j
		for k < len(s) && (isWordByte(s[k]) && s[k] != '_' || s[k] == '-') {
			k++
		}
		if k == j {
			break
		}
		labels, j = labels+1, k
		if byteAt(s, j) != '.' || !isWordByte(byteAt(s, j+1)) {
			break
		}
		j++
	}
	// A domain glued to more text is not one: the word after it, or a
	// placeholder after a dot (example.<id> was example.c_mX9a), so that
	// the fingerprint reads the same the second time.
	if labels < 2 || wordAt(s, j) || byteAt(s, j) == '.' && wordAt(s, j+1) {
		return 0
	}
	return j
}

func isLocalByte(c byte) bool {
	return isWordByte(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

// jwtEnd returns the end of a JSON Web Token at i (eyJ…, three or more
// base64url parts joined by dots), or 0.
func jwtEnd(s string, i int) int {
	if !strings.HasPrefix(s[i:], "eyJ") || i > 0 && (s[i-1] == '.' || s[i-1] == '-') {
		return 0
	}
	j, dots := i, 0
	for j < len(s) && (isWordByte(s[j]) || s[j] == '-' || s[j] == '.' && j+1 < len(s) && (isWordByte(s[j+1]) || s[j+1] == '-')) {
		if s[j] == '.' {
			dots++
		}
		j++
	}
	if dots < 2 || wordAt(s, j) {
		return 0
	}
	return j
}

// wordEnd returns the end of the run of word bytes at i.
func wordEnd(s string, i int) int {
	for i < len(s) && isWordByte(s[i]) {
		i++
	}
	return i
}

// byteAt returns s[i], or 0 past its end.
func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// digitsAt reports whether n digits start at i.
func digitsAt(s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return len(s) > 0
}

func allHex(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isHexByte(s[k]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isHexByte(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

func isWordByte(c byte) bool { return isDigit(c) || isLetter(c) || c == '_' }
