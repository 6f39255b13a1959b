package dlq

import (
	"bytes"
	"fmt"
)

// notDurable reports, at close, the entries whose lines were written but
// never confirmed durable in the file at path: they are held in the kept
// copy, and the last sync failed with err. It logs them at error level and
// returns err with their count.
func (f *fileBackend) notDurable(err error) error {
	n := bytes.Count(f.kept, []byte{'\n'})
	if n == 0 {
		return err
	}
	f.log.Error("dlq: entries written to the file were never made durable and are lost at close",
		"file", f.path, "entries", n, "bytes", len(f.kept), "error", err)
	return fmt.Errorf("%d entries not made durable (lost with this process): %w", n, err)
}
