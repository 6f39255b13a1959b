package dlqgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ManifestName is the manifest's file name, beside the service folder.
const ManifestName = "manifest.json"

// Manifest is the ground truth of a generated folder: what the tools that
// read it should find.
type Manifest struct {
	Generator string `json:"generator"`
	Seed      uint64 `json:"seed"`
	N         int    `json:"n"`
	Service   string `json:"service"`
	// Folder is the service folder's name under the output directory: the
	// SRC to give dlq.
	Folder    string `json:"folder"`
	MaxSizeMB int    `json:"max_size_mb"`
	// OldestMS and NewestMS bound the entries' timestamps (epoch ms).
	OldestMS int64 `json:"oldest_ms"`
	NewestMS int64 `json:"newest_ms"`
	// Files are the folder's files in reading order: rotated ones oldest
	// first, the live one last.
	Files []File `json:"files"`
	// Gzipped and PlainRotated count the rotated files of each kind.
	Gzipped      int `json:"gzipped"`
	PlainRotated int `json:"plain_rotated"`
	// BytesPlain is the NDJSON's size, BytesOnDisk the files' sizes.
	BytesPlain  int64 `json:"bytes_plain"`
	BytesOnDisk int64 `json:"bytes_on_disk"`
	// Reasons counts the entries per reason.
	Reasons map[string]int `json:"reasons"`
	// DistinctBugs is how many bugs the entries come from: the number of
	// groups a fingerprint that groups bugs should find.
	DistinctBugs int   `json:"distinct_bugs"`
	Bugs         []Bug `json:"bugs"`
	// BugOfEntry holds the bug of each entry in reading order, one base-36
	// digit per entry (Bug.ID).
	BugOfEntry string `json:"bug_of_entry"`
	// PerHour counts the entries per UTC hour, keyed as dlq inspect
	// --group-by hour keys them (2006-01-02T15:04Z), in time order.
	PerHour []Hour `json:"per_hour"`
	// Binary, WithKey, WithHeaders and WithMetadata count the entries with
	// a binary payload, a key, headers, metadata.
	Binary       int `json:"binary"`
	WithKey      int `json:"with_key"`
	WithHeaders  int `json:"with_headers"`
	WithMetadata int `json:"with_metadata"`
	// Samples are a few entries with the file that holds them.
	Samples []Sample `json:"samples"`
}

// File is one file of the folder.
type File struct {
	Name string `json:"name"`
	Gz   bool   `json:"gz"`
	// First is the reading-order position of its first entry.
	First   int   `json:"first"`
	Entries int   `json:"entries"`
	MinMS   int64 `json:"min_ms"`
	MaxMS   int64 `json:"max_ms"`
	// FirstID and LastID are the ids of its first and last entries.
	FirstID     string `json:"first_id"`
	LastID      string `json:"last_id"`
	BytesPlain  int64  `json:"bytes_plain"`
	BytesOnDisk int64  `json:"bytes_on_disk"`
}

// Bug is one cause of entries.
type Bug struct {
	ID          string `json:"id"` // its digit in BugOfEntry
	Reason      string `json:"reason"`
	Destination string `json:"destination"`
	Template    string `json:"template"`
	Example     string `json:"example"`
	Entries     int    `json:"entries"`
}

// Hour is the count of one hour.
type Hour struct {
	Hour    string `json:"hour"`
	Entries int    `json:"entries"`
}

// Sample is one entry and where it is.
type Sample struct {
	// Where says which entry it is: oldest, old (the middle of the second
	// file), middle, newest-file (the middle of the live file), newest.
	Where       string `json:"where"`
	ID          string `json:"id"`
	File        string `json:"file"`
	Position    int    `json:"position"`
	TimestampMS int64  `json:"timestamp_ms"`
	Reason      string `json:"reason"`
	Bug         string `json:"bug"`
}

// Sample returns the sample named where.
func (m *Manifest) Sample(where string) (Sample, bool) {
	for _, s := range m.Samples {
		if s.Where == where {
			return s, true
		}
	}
	return Sample{}, false
}

// Source returns the path of the service folder under dir, the output
// directory.
func (m *Manifest) Source(dir string) string { return filepath.Join(dir, m.Folder) }

// Paths returns the folder's files under dir in reading order.
func (m *Manifest) Paths(dir string) []string {
	paths := make([]string, len(m.Files))
	for i, f := range m.Files {
		paths[i] = filepath.Join(dir, m.Folder, f.Name)
	}
	return paths
}

// ReadManifest reads the manifest of the output directory dir.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	return &m, nil
}
