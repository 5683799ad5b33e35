package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge: an API answer was larger than the cap set for it.
var ErrTooLarge = errors.New("response body too large")

// DefaultMaxBody caps every response body read through a Client.
const DefaultMaxBody = 32 << 20

// DecodeJSON decodes one JSON value from r, reading at most max bytes
// (max <= 0: DefaultMaxBody). A larger body is ErrTooLarge, never a
// silently truncated value.
func DecodeJSON(r io.Reader, max int64, v any) error {
	if max <= 0 {
		max = DefaultMaxBody
	}
	lr := &io.LimitedReader{R: r, N: max + 1}
	err := json.NewDecoder(lr).Decode(v)
	if lr.N <= 0 {
		return fmt.Errorf("decode: %w (over %d bytes)", ErrTooLarge, max)
	}
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// ReadBody reads r whole, up to max bytes (max <= 0: DefaultMaxBody): for
// error bodies a connector wants to show.
func ReadBody(r io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if int64(len(b)) > max {
		return b[:max], fmt.Errorf("read: %w (over %d bytes)", ErrTooLarge, max)
	}
	return b, err
}

// capped makes a response body fail with ErrTooLarge past max bytes, so an
// SDK decoding it (go-github, go-jira) cannot be made to read without end.
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		for {
			n, err := c.rc.Read(one[:])
			if n > 0 {
				return 0, ErrTooLarge
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }
