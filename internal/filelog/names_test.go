package filelog

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackupNameParsesBack(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 5, 6, 789e6, time.UTC)
	name := BackupName(at)
	assert.Equal(t, "dlq-2026-12-04T19-05-06.789.ndjson", name)
	for _, n := range []string{name, name + GzSuffix} {
		plain, got, gz, ok := parseBackup(n)
		assert.True(t, ok, n)
		assert.Equal(t, name, plain)
		assert.True(t, got.Equal(at), n)
		assert.Equal(t, n != name, gz)
	}
	for _, n := range []string{LiveName, "dlq.ndjson.1", "dlq.ndjson-20261204.gz", "dlq-yesterday.ndjson", "other-2026-12-04T19-05-06.789.ndjson", LockName} {
		_, _, _, ok := parseBackup(n)
		assert.False(t, ok, n)
	}
}

func TestTempNameIsHiddenAndKnown(t *testing.T) {
	tmp := tempName("/d/" + BackupName(time.Now().UTC()))
	assert.True(t, isTemp(tmp[len("/d/"):]), tmp)
	assert.False(t, BelongsToLog(tmp[len("/d/"):]), "the reader never reads a half compression")
	assert.False(t, isTemp(BackupName(time.Now().UTC())))
}

func TestBelongsToLog(t *testing.T) {
	for _, n := range []string{LiveName, BackupName(time.Now().UTC()), BackupName(time.Now().UTC()) + GzSuffix,
		"dlq.ndjson.1", "dlq.ndjson.2.gz", "dlq.ndjson-20261204", "dlq-old.ndjson.gz"} {
		assert.True(t, BelongsToLog(n), n)
	}
	for _, n := range []string{LockName, "app.ndjson", "dlq.json", "notes.txt"} {
		assert.False(t, BelongsToLog(n), n)
	}
}

func TestOrderKeyReadsOldestFirst(t *testing.T) {
	want := []string{"dlq.ndjson.10", "dlq.ndjson.2", "dlq.ndjson.1",
		"dlq-2026-01-01T00-00-00.000.ndjson", "dlq-2026-01-02T00-00-00.000.ndjson", "dlq.ndjson-20260103", LiveName}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, func(a, b string) int { return strings.Compare(OrderKey(a), OrderKey(b)) })
	assert.Equal(t, want, got)
	assert.True(t, IsRotated(BackupName(time.Now().UTC())))
	assert.False(t, IsRotated("dlq.ndjson.1"))
}

func TestRotatedAtIsTheTimeInTheName(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 5, 6, 789e6, time.UTC)
	for _, n := range []string{BackupName(at), BackupName(at) + GzSuffix} {
		got, ok := RotatedAt(n)
		assert.True(t, ok, n)
		assert.True(t, got.Equal(at), n)
	}
	for _, n := range []string{LiveName, "dlq.ndjson.1", "dlq.ndjson-20261204.gz", "dlq-old.ndjson.gz"} {
		_, ok := RotatedAt(n)
		assert.False(t, ok, n)
	}
}
