package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads "10m", "0s", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 10m", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 10m or 30s", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// UnmarshalYAML keeps the mapping's keys in file order: status groups are
// shown in the order the rules list them.
func (m *OrderedMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of status to word", n.Line)
	}
	m.Keys = nil
	m.Values = map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: want status: word", k.Line)
		}
		if _, dup := m.Values[k.Value]; dup {
			return fmt.Errorf("line %d: status %q is mapped twice", k.Line, k.Value)
		}
		m.Keys = append(m.Keys, k.Value)
		m.Values[k.Value] = v.Value
	}
	return nil
}
