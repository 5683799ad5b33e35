package config

import (
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads "10m", "0s", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return &posError{line: n.Line, msg: err.Error()}
	}
	d.Duration = v
	return nil
}

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("want a duration such as 10m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 10m or 30s", clip(n.Value))
	}
	return v, nil
}

// UnmarshalYAML keeps the mapping's keys in file order: status groups are
// shown in the order the rules list them. (Load decodes OrderedMap itself,
// reporting every bad entry; this serves direct yaml.v3 users.)
func (m *OrderedMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &posError{line: n.Line, msg: "want a mapping of status to word"}
	}
	m.Keys = nil
	m.Values = map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return &posError{line: k.Line, msg: "want status: word"}
		}
		if _, dup := m.Values[k.Value]; dup {
			return &posError{line: k.Line, msg: fmt.Sprintf("status %q is mapped twice", k.Value)}
		}
		m.Keys = append(m.Keys, k.Value)
		m.Values[k.Value] = v.Value
	}
	return nil
}

// posError carries the line a custom unmarshaler found a problem on; its
// text keeps the "line N: " form yaml.v3 users expect.
type posError struct {
	line int
	msg  string
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }
