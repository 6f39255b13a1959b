// Package procstat reads this process's own figures from /proc for the
// benchmark programs.
package procstat

import (
	"os"
	"strings"
)

// PeakRSS returns VmHWM, the resident set's high-water mark, as /proc
// prints it (e.g. "21452 kB"), or "unknown" with the reason.
func PeakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
