package dlq

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dlqkit/dlq/internal/filelog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// followUntil follows src until want entries were read, or the entry with
// id last (the last one written), or 30 s passed, calling each with every
// record's index first.
func followUntil(t *testing.T, src string, want int, last string, each func(i int)) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r, err := OpenReader(src, ReaderOptions{Follow: true, PollInterval: time.Millisecond})
	require.NoError(t, err)
	var recs []Record
	for rec, err := range r.All(ctx) {
		if err != nil {
			require.ErrorIs(t, err, ctx.Err(), "only the end of the follow ends it")
			break
		}
		each(len(recs))
		recs = append(recs, rec)
		if len(recs) == want || rec.Entry.ID == last {
			cancel()
		}
	}
	return recs
}

func TestReaderFollowsRotationBursts(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress %v", compress), func(t *testing.T) {
			w := newDLQWriter(t, t.TempDir(), "svc", compress)
			w.write(100)
			recs := followUntil(t, w.dir, 700, "id-00699", func(i int) {
				if i == 50 || i == 250 { // three rotations between two looks
					for range 3 {
						w.rotate(100)
					}
				}
			})
			checkIDs(t, recs, 0, 700)
		})
	}
}

func TestReaderFollowsEveryService(t *testing.T) {
	root := t.TempDir()
	one := newDLQWriter(t, root, "one", false)
	two := newDLQWriter(t, root, "two", false)
	one.write(10)
	two.write(10)
	recs := followUntil(t, root, 60, "", func(i int) {
		if i == 19 { // both backlogs read
			one.write(20)
			two.write(10)
			two.rotate(10)
		}
	})
	byService := map[string]int{}
	for _, rec := range recs {
		byService[filepath.Base(filepath.Dir(rec.Position))]++
	}
	require.Equal(t, map[string]int{"one": 30, "two": 30}, byService)
}

func TestReaderFollowsAFileThroughRotation(t *testing.T) {
	for _, source := range []string{"the service folder", "the file"} {
		t.Run(source, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, filelog.LiveName)
			require.NoError(t, os.WriteFile(path, []byte(lineFor("1", "r", 1)), 0o600))
			src := dir
			if source == "the file" {
				src = path
			}
			r, err := OpenReader(src, ReaderOptions{Follow: true, PollInterval: time.Millisecond})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			appendLine := func(s string) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
				require.NoError(t, err)
				_, err = f.WriteString(s)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			var got []string
			for rec, err := range r.All(ctx) {
				if err != nil {
					assert.ErrorIs(t, err, context.Canceled, "ended before reading 1 to 4")
					break
				}
				got = append(got, string(rec.Entry.Payload))
				switch len(got) {
				case 1: // a line written in two parts is read once whole
					line := lineFor("2", "r", 2)
					appendLine(line[:10])
					appendLine(line[10:])
				case 2: // rotation: the old file gets a last line, then moves aside
					appendLine(lineFor("3", "r", 3))
					require.NoError(t, os.Rename(path, filepath.Join(dir, "dlq-2026-01-15T08-00-00.000.ndjson")))
					appendLine(lineFor("4", "r", 4))
				case 4:
					cancel()
				}
			}
			assert.Equal(t, []string{"1", "2", "3", "4"}, got)
		})
	}
}
