package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"vitrine/connectors"
	"vitrine/item"
)

// Source serves a board file as a source. Every call reads the file again,
// so editing the board is seen at the next poll (the demo's live edit).
type Source struct {
	key  string
	path string
}

// NewSource returns the source with key (as mapping.SourceKey forms it)
// reading path.
func NewSource(key, path string) *Source { return &Source{key: key, path: path} }

func (s *Source) Key() string { return s.key }

func (s *Source) read() (item.Snapshot, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return item.Snapshot{}, &connectors.AccessError{Source: s.key, Status: 404, Err: err}
	}
	if err != nil {
		return item.Snapshot{}, fmt.Errorf("%s: %w", s.key, err)
	}
	return Parse(s.path, s.key, data)
}

// Poll lists the whole board: a file is small, and a complete listing lets
// the engine see deletions.
func (s *Source) Poll(ctx context.Context, cursor string) (connectors.Poll, error) {
	snap, err := s.read()
	if err != nil {
		return connectors.Poll{}, err
	}
	return connectors.Poll{Items: snap.Items, Milestones: snap.Milestones, Cursor: cursor, Full: true}, nil
}

// Fetch reads one item.
func (s *Source) Fetch(ctx context.Context, id string, o connectors.FetchOptions) (item.Item, error) {
	snap, err := s.read()
	if err != nil {
		return item.Item{}, err
	}
	for _, it := range snap.Items {
		if it.ID == id {
			return it, nil
		}
	}
	return item.Item{}, fmt.Errorf("%s: %w", id, connectors.ErrGone)
}

// Milestones reads the board's milestones.
func (s *Source) Milestones(ctx context.Context, cached bool) ([]item.Milestone, error) {
	snap, err := s.read()
	if err != nil {
		return nil, err
	}
	return snap.Milestones, nil
}
