package dlq

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The allowed values of each enumerated config key. An empty value is
// allowed too and means the key's default.
var (
	modeNames        = []string{string(ModeCascade), string(ModeFanOut), string(ModeFileOnly), string(ModeKafkaOnly)}
	rotationNames    = []string{string(RotateHourly), string(RotateDaily), string(RotateSize), string(RotateNone)}
	routingNames     = []string{"per_table", "common"}
	keyNames         = []string{"destination", "original"}
	acksNames        = []string{"all", "one", "none"}
	compressionNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	mechanismNames   = []string{"plain", "scram-sha-256", "scram-sha-512"}
	stormActionNames = []string{string(StormRefuse), string(StormSignal)}
)

// notOneOf says that v is not one of the allowed values. Unmarshalling and
// New use the same words, so a bad value reads the same whenever it is
// caught.
func notOneOf(v string, allowed []string) string {
	return fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

// checkEnum returns an error naming the key when v is set and not allowed.
// Its message carries the package prefix, as UnmarshalText's errors reach
// the caller unwrapped (encoding/json).
func checkEnum(key, v string, allowed []string) error {
	if v != "" && !slices.Contains(allowed, v) {
		return fmt.Errorf("dlq: %s: %s", key, notOneOf(v, allowed))
	}
	return nil
}

// unknownKind says that s names no backend.
func unknownKind(s string) string {
	return fmt.Sprintf("unknown backend %q (want file, kafka, http or redis)", s)
}

// yamlEnum decodes the scalar n into a string and checks it. A bad value is
// reported as a *yaml.TypeError with n's line, worded as yaml's own type
// errors are, so that yaml.Unmarshal goes on and lists it among the
// document's other errors, line numbers included.
func yamlEnum(n *yaml.Node, allowed []string) (string, error) {
	var s string
	if err := n.Decode(&s); err != nil {
		return "", err
	}
	if s != "" && !slices.Contains(allowed, s) {
		return "", &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, notOneOf(s, allowed))}}
	}
	return s, nil
}

// UnmarshalText parses a mode such as "fan_out". Any other value is an
// error, so a misspelled mode fails when the config is decoded, not later at
// New.
func (m *Mode) UnmarshalText(text []byte) error {
	if err := checkEnum("mode", string(text), modeNames); err != nil {
		return err
	}
	*m = Mode(text)
	return nil
}

// UnmarshalYAML parses a mode such as "fan_out"; an error names the line.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	s, err := yamlEnum(n, modeNames)
	if err == nil {
		*m = Mode(s)
	}
	return err
}

// UnmarshalText parses a rotation such as "daily". Any other value is an
// error, so a misspelled rotation fails when the config is decoded, not
// later at New.
func (r *Rotation) UnmarshalText(text []byte) error {
	if err := checkEnum("file.rotation", string(text), rotationNames); err != nil {
		return err
	}
	*r = Rotation(text)
	return nil
}

// UnmarshalYAML parses a rotation such as "daily"; an error names the line.
func (r *Rotation) UnmarshalYAML(n *yaml.Node) error {
	s, err := yamlEnum(n, rotationNames)
	if err == nil {
		*r = Rotation(s)
	}
	return err
}

// UnmarshalText parses a storm action such as "signal". Any other value is
// an error, so a misspelled action fails when the config is decoded, not
// later at New.
func (a *StormAction) UnmarshalText(text []byte) error {
	if err := checkEnum("storm.action", string(text), stormActionNames); err != nil {
		return err
	}
	*a = StormAction(text)
	return nil
}

// UnmarshalYAML parses a storm action such as "signal"; an error names the
// line.
func (a *StormAction) UnmarshalYAML(n *yaml.Node) error {
	s, err := yamlEnum(n, stormActionNames)
	if err == nil {
		*a = StormAction(s)
	}
	return err
}

// UnmarshalYAML parses a backend name such as "kafka"; an error names the
// line.
func (k *Kind) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, unknownKind(s))}}
	}
	return nil
}
