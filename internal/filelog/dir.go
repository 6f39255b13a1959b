package dlq

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// makeDir creates dir and its missing parents, 0700, and fsyncs each one it
// created into its parent, so that a power loss cannot take the folder
// holding entries Flush confirmed. A folder that exists is used as it is (a
// volume mounted with a group, say, which the process may not chmod); the
// logger is warned when group or others can read it.
func makeDir(dir string, log *slog.Logger) error {
	var missing []string // dir first, then its missing parents
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	for _, d := range missing {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("make %s durable: %w", d, err)
		}
	}
	if len(missing) > 0 {
		return nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if info.Mode().Perm()&0o044 != 0 {
		log.Warn("dlq: the file backend's folder is readable by group or others; entries hold other people's payloads",
			"dir", dir, "mode", info.Mode().String())
	}
	return nil
}
