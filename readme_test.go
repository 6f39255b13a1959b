package dlq

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// readmeBlock is one fenced code block of README.md.
type readmeBlock struct {
	lang, text string
	line       int
}

var fence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var blocks []readmeBlock
	for _, m := range fence.FindAllSubmatchIndex(data, -1) {
		blocks = append(blocks, readmeBlock{
			lang: string(data[m[2]:m[3]]),
			text: string(data[m[4]:m[5]]),
			line: 1 + strings.Count(string(data[:m[0]]), "\n"),
		})
	}
	require.NotEmpty(t, blocks)
	return blocks
}

// TestReadmeYAML decodes every YAML block of README.md strictly: a key the
// README shows must be a key the loader knows.
func TestReadmeYAML(t *testing.T) {
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" || strings.HasPrefix(b.text, "groups:") {
			continue // not YAML, or Prometheus alert rules
		}
		n++
		_, l := decodeConfig([]byte(b.text), envOf(map[string]string{}))
		for _, f := range l.fields {
			t.Errorf("README.md:%d: the yaml block: %v", b.line, f)
		}
	}
	assert.GreaterOrEqual(t, n, 5)
}

// TestReadmeQuickStart pastes README.md's Go program and its dlq.yaml into a
// fresh module, as a newcomer would, builds it against this checkout and
// runs it.
func TestReadmeQuickStart(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.SkipOrFail(t, "the go command is not on PATH")
	}
	var program, config string
	for _, b := range readmeBlocks(t) {
		switch {
		case b.lang == "go" && strings.HasPrefix(b.text, "package main\n"):
			require.Empty(t, program, "README.md:%d: one Go program is expected", b.line)
			program = b.text
		case b.lang == "go":
			// A fragment (the Reader loop, the Prometheus wiring): each is
			// compiled as an Example (ExampleOpenReader, dlqprom's
			// ExampleNew) rather than here.
		case b.lang == "yaml" && strings.HasPrefix(b.text, "# dlq.yaml\n"):
			config = b.text
		}
	}
	require.NotEmpty(t, program, "README.md has no Go program")
	require.NotEmpty(t, config, "README.md has no yaml block starting with # dlq.yaml")

	repo, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	for name, text := range map[string]string{
		"go.mod":    "module example.com/loader\n\ngo 1.26.0\n\nrequire github.com/dlqkit/dlq v0.0.0\n\nreplace github.com/dlqkit/dlq => " + repo + "\n",
		"go.sum":    string(sum),
		"main.go":   program,
		"dlq.yaml":  config,
		"README.md": "the module a newcomer makes\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
		return string(out)
	}
	// Offline: everything the module needs is what this checkout needs.
	run([]string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off"}, goTool, "build", "-o", "loader", ".")

	t.Run("as pasted", func(t *testing.T) {
		out := run([]string{"DLQ_DIR="}, "./loader")
		assert.Equal(t, "1 entry written to dlq/loader/dlq.ndjson\n", out)
		assert.Len(t, readDir(t, filepath.Join(dir, "dlq", "loader")), 1)
	})
	t.Run("with DLQ_DIR set", func(t *testing.T) {
		other := filepath.Join(dir, "elsewhere")
		out := run([]string{"DLQ_DIR=" + other}, "./loader")
		assert.Equal(t, "1 entry written to "+filepath.Join(other, "loader", "dlq.ndjson")+"\n", out, "the real path")
		assert.Len(t, readDir(t, filepath.Join(other, "loader")), 1)
	})
}
