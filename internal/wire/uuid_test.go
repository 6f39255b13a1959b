package wire

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDSource(t *testing.T) {
	uuidv7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	now := time.UnixMilli(1764200000123)

	t.Run("ids stay what they were while later ones are made", func(t *testing.T) {
		s := NewIDSource()
		first := make([]string, 3*idsPerSlab+5)
		copies := make([]string, len(first))
		for i := range first {
			first[i] = s.Next(now)
			copies[i] = string([]byte(first[i])) // a copy of its own
		}
		seen := map[string]bool{}
		for i, id := range first {
			require.Equal(t, copies[i], id, "id %d changed after later ids were made", i)
			require.Regexp(t, uuidv7, id)
			require.False(t, seen[id], "id %d repeats", i)
			seen[id] = true
		}
	})
	t.Run("the first 48 bits are the Unix milliseconds", func(t *testing.T) {
		id := NewIDSource().Next(now)
		ms, err := strconv.ParseUint(id[0:8]+id[9:13], 16, 64)
		require.NoError(t, err)
		assert.Equal(t, uint64(now.UnixMilli()), ms)
	})
	t.Run("an id costs no allocation of its own", func(t *testing.T) {
		s := NewIDSource()
		allocs := testing.AllocsPerRun(10, func() {
			for range idsPerSlab {
				_ = s.Next(now)
			}
		})
		assert.LessOrEqual(t, allocs, 1.0, "allocations per %d ids", idsPerSlab)
	})
}

func TestUUIDv7Time(t *testing.T) {
	now := time.UnixMilli(1764200000123)
	ms, ok := UUIDv7Time(NewIDSource().Next(now))
	require.True(t, ok)
	assert.Equal(t, now.UnixMilli(), ms)
	ms, ok = UUIDv7Time("019ABCDE-F012-7ABC-BDEF-0123456789AB")
	require.True(t, ok, "upper case")
	assert.Equal(t, int64(0x019abcdef012), ms)
	for _, s := range []string{
		"", "id-7", "019abcde-f012-4abc-bdef-0123456789ab", // version 4
		"019abcde-f012-7abc-cdef-0123456789ab",  // variant 110
		"019abcde-f012-7abc-bdef-0123456789a",   // short
		"019abcde-f012-7abc-bdef-0123456789abc", // long
		"019abcde_f012-7abc-bdef-0123456789ab", "019abcdg-f012-7abc-bdef-0123456789ab",
	} {
		_, ok := UUIDv7Time(s)
		assert.False(t, ok, s)
	}
}
