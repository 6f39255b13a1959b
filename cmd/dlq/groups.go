package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/dlqkit/dlq"
)

// groupBy is inspect's --group-by: one key or several (reason,fingerprint).
type groupBy []string

func parseGroupBy(s string) (groupBy, error) {
	var by groupBy
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if _, ok := groupKeys[name]; !ok || slices.Contains(by, name) {
			return nil, fmt.Errorf("%w: --group-by %q is not reason, destination, service, source, hour, day or fingerprint, nor several of them joined by commas", errUsage, s)
		}
		by = append(by, name)
	}
	return by, nil
}

// byTime reports whether the groups are a timeline: by hour or day first,
// printed in time order rather than largest first.
func (by groupBy) byTime() bool { return by[0] == "hour" || by[0] == "day" }

// groupCounter counts entries by their key; its memory grows with the
// number of distinct keys, not of entries.
type groupCounter struct {
	by     groupBy
	keyOf  []func(e *dlq.Entry) string
	m      map[string]*group // by the key, or the encoded parts of a composite one
	parts  []string          // scratch: a composite key's parts
	encode []byte            // scratch: their encoding
}

func newGroupCounter(by groupBy) *groupCounter {
	c := &groupCounter{by: by, m: map[string]*group{}, parts: make([]string, len(by))}
	for _, name := range by {
		c.keyOf = append(c.keyOf, groupKeys[name])
	}
	return c
}

func (c *groupCounter) add(e *dlq.Entry) {
	ms := e.Timestamp.UnixMilli()
	var g *group
	if len(c.keyOf) == 1 {
		key := c.keyOf[0](e)
		if g = c.m[key]; g == nil {
			g = &group{Key: key, First: ms, Last: ms}
			c.m[key] = g
		}
	} else {
		for i, keyOf := range c.keyOf {
			c.parts[i] = keyOf(e)
		}
		c.encode = encodeParts(c.encode[:0], c.parts, -1)
		if g = c.m[string(c.encode)]; g == nil {
			g = &group{Key: strings.Join(c.parts, " | "), Keys: slices.Clone(c.parts), First: ms, Last: ms}
			c.m[string(c.encode)] = g
		}
	}
	g.Count++
	g.First, g.Last = min(g.First, ms), max(g.Last, ms)
}

// encodeParts appends the parts of a key, each after its length, so that
// no two lists of parts encode alike; the part at skip is left out.
func encodeParts(dst []byte, parts []string, skip int) []byte {
	for i, p := range parts {
		if i != skip {
			dst = binary.AppendUvarint(dst, uint64(len(p)))
			dst = append(dst, p...)
		}
	}
	return dst
}

// groups returns the groups, the rare fingerprints folded into the
// template they are an instance of, in the order they print: by time for a
// timeline, else largest first (ties by key).
func (c *groupCounter) groups() []group {
	all := make([]*group, 0, len(c.m))
	for _, g := range c.m {
		all = append(all, g)
	}
	if fp := slices.Index(c.by, "fingerprint"); fp >= 0 {
		all = foldRare(all, fp)
	}
	out := make([]group, len(all))
	for i, g := range all {
		out[i] = *g
	}
	slices.SortFunc(out, func(a, b group) int {
		if !c.by.byTime() {
			if n := cmp.Compare(b.Count, a.Count); n != 0 {
				return n
			}
		}
		return slices.Compare(partsOf(&a), partsOf(&b))
	})
	return out
}

func partsOf(g *group) []string {
	if g.Keys != nil {
		return g.Keys
	}
	return []string{g.Key}
}

// Folding: dlq.Fingerprint masks what it can tell is an id, but a short
// random id can read as a word (ch_lqpusarq, a base62 token of letters
// only), and every entry that draws one gets a fingerprint of its own. A
// group seen at most rareCount times is counted in a larger group when
// their keys are the same but for one word of the fingerprint, of
// foldMinWord characters or more, where the larger group's has <id> or
// <hex>: "charge ch_lqpusarq failed" joins "charge <id> failed". Two
// groups that differ in a word both hold many entries of stay apart.
const (
	rareCount     = 2
	templateCount = 3 // a template holds at least this many entries
	foldMinWord   = 6
)

// foldRare counts the rare groups in the template they are an instance of
// and returns the groups left; fp is the fingerprint's index in a key.
func foldRare(groups []*group, fp int) []*group {
	templates := map[string]*group{}
	var key []byte
	for _, g := range groups {
		if g.Count < templateCount {
			continue
		}
		parts := partsOf(g)
		text := parts[fp]
		for _, mask := range []string{"<id>", "<hex>"} {
			for at := 0; ; {
				i := strings.Index(text[at:], mask)
				if i < 0 {
					break
				}
				start, end := at+i, at+i+len(mask)
				key = templateKey(key[:0], parts, fp, text[:start], text[end:])
				if t := templates[string(key)]; t == nil || t.Count < g.Count {
					templates[string(key)] = g
				}
				at = end
			}
		}
	}
	if len(templates) == 0 {
		return groups
	}
	kept := groups[:0]
	for _, g := range groups {
		if g.Count > rareCount || !foldInto(g, templates, fp, &key) {
			kept = append(kept, g)
		}
	}
	return kept
}

// foldInto counts g in the template it is an instance of, if any.
func foldInto(g *group, templates map[string]*group, fp int, key *[]byte) bool {
	parts := partsOf(g)
	text := parts[fp]
	for start := 0; start < len(text); {
		if !isWordChar(text[start]) {
			start++
			continue
		}
		end := start
		letter := false
		for end < len(text) && isWordChar(text[end]) {
			letter = letter || text[end]|0x20 >= 'a' && text[end]|0x20 <= 'z'
			end++
		}
		if end-start >= foldMinWord && letter && (start == 0 || text[start-1] != '<') {
			*key = templateKey((*key)[:0], parts, fp, text[:start], text[end:])
			if t := templates[string(*key)]; t != nil && t != g {
				t.Count += g.Count
				t.First, t.Last = min(t.First, g.First), max(t.Last, g.Last)
				return true
			}
		}
		start = end
	}
	return false
}

// templateKey encodes a key with its fingerprint's word or placeholder
// between before and after left out.
func templateKey(dst []byte, parts []string, fp int, before, after string) []byte {
	dst = encodeParts(dst, parts, fp)
	dst = binary.AppendUvarint(dst, uint64(len(before)))
	dst = append(dst, before...)
	return append(dst, after...)
}

func isWordChar(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_'
}

// topGroups keeps the first top groups (of a timeline, the last: the
// newest) and counts the others; top 0 keeps all.
func topGroups(groups []group, top int, byTime bool) (kept []group, moreGroups int, moreEntries uint64) {
	if top == 0 || len(groups) <= top {
		return groups, 0, 0
	}
	kept, rest := groups[:top], groups[top:]
	if byTime {
		kept, rest = groups[len(groups)-top:], groups[:len(groups)-top]
	}
	for _, g := range rest {
		moreEntries += g.Count
	}
	return kept, len(rest), moreEntries
}
