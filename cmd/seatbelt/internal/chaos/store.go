package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Store keeps the schedule [State] and the outcome history across restarts
// of the runner, so that the minimum interval and the daily maximum hold
// when the process restarts. Use one store per runner.
type Store interface {
	// Load returns the saved state; a store never saved returns the zero
	// State.
	Load(ctx context.Context) (State, error)
	// Save stores st together with the outcome that led to it.
	Save(ctx context.Context, st State, o Outcome) error
}

// FileStore keeps the state in a JSON file, written atomically (a
// temporary file in the same folder, synced, then renamed over the old
// one), so a crash leaves either the old or the new file.
type FileStore struct {
	// Path of the JSON file. Required.
	Path string
	// Keep is how many recent outcomes the file holds. Defaults to 100.
	Keep int

	mu sync.Mutex
}

// fileContent is the JSON layout of a FileStore.
type fileContent struct {
	State    State     `json:"state"`
	Outcomes []Outcome `json:"outcomes,omitempty"`
}

// Load reads the file; a missing file is the zero State.
func (f *FileStore) Load(ctx context.Context) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.read()
	return c.State, err
}

// Outcomes returns the recent outcomes in the file, oldest first.
func (f *FileStore) Outcomes() ([]Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.read()
	return c.Outcomes, err
}

// Save appends o and replaces the state.
func (f *FileStore) Save(ctx context.Context, st State, o Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.read()
	if err != nil {
		return err
	}
	keep := f.Keep
	if keep <= 0 {
		keep = 100
	}
	c.State = st
	c.Outcomes = append(c.Outcomes, o)
	if len(c.Outcomes) > keep {
		c.Outcomes = c.Outcomes[len(c.Outcomes)-keep:]
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(f.Path, append(data, '\n'))
}

func (f *FileStore) read() (fileContent, error) {
	var c fileContent
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("chaos: read state: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("chaos: state file %s is not valid JSON (%v); fix or remove it, the minimum interval is then not enforced for the first action", f.Path, err)
	}
	return c, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("chaos: write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("chaos: write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("chaos: write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("chaos: write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("chaos: write state: %w", err)
	}
	return nil
}
