package dlq

import (
	"fmt"
	"reflect"
	"strings"
)

// suggest returns " (did you mean ...?)" naming the known key nearest to
// key: a close spelling among the keys of struct t at path, or the same key
// in another section; or "".
func suggest(key, path string, t reflect.Type) string {
	best, bestDist := "", len(key)/3+1
	for k := range yamlKeys(t) {
		if d := editDistance(strings.ToLower(key), k); d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if elsewhere := findKey(reflect.TypeFor[Config](), "", strings.ToLower(key)); elsewhere != "" && elsewhere != joinKey(path, key) {
		return fmt.Sprintf(" (did you mean %q?)", elsewhere)
	}
	return ""
}

// findKey returns the path of the first key named key in struct t, depth
// first, or "".
func findKey(t reflect.Type, path, key string) string {
	keys := yamlKeys(t)
	if _, ok := keys[key]; ok {
		return joinKey(path, key)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "-" && f.IsExported() && isSection(f.Type) {
			if p := findKey(f.Type, joinKey(path, name), key); p != "" {
				return p
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
