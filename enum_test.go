package dlq

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestEnumsFailWhereverTheyAreDecoded(t *testing.T) {
	for _, test := range []struct {
		name string
		yaml string // at line 2
		json string
		cfg  Config
	}{
		{"mode", "mode: FAN_OUT", `{"mode": "FAN_OUT"}`, Config{Service: "x", Mode: "FAN_OUT"}},
		{"order", "order: [Kafka]", `{"order": ["Kafka"]}`, Config{Service: "x", Order: []Kind{0}}},
		{"rotation", "file: {rotation: Hourly}", `{"file": {"rotation": "Hourly"}}`, Config{Service: "x", File: FileConfig{Rotation: "Hourly"}}},
		{"storm action", "storm: {action: pause}", `{"storm": {"action": "pause"}}`, Config{Service: "x", Storm: StormConfig{MaxRatio: 0.5, Action: "pause"}}},
	} {
		t.Run(test.name, func(t *testing.T) {
			var cfg Config
			err := yaml.Unmarshal([]byte("service: x\n"+test.yaml+"\n"), &cfg)
			require.Error(t, err, "yaml.Unmarshal")
			assert.Contains(t, err.Error(), "line 2: ")
			assert.Regexp(t, "is not one of|unknown backend", err.Error())

			require.Error(t, json.Unmarshal([]byte(test.json), &cfg), "json.Unmarshal")

			_, err = parseConfig([]byte("service: x\n"+test.yaml+"\n"), noEnv)
			ce := requireConfigError(t, err)
			assert.Equal(t, 2, ce.Fields[0].Line)

			_, err = New(test.cfg)
			requireConfigError(t, err)
		})
	}
}
