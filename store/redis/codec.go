package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Times are stored as 21 decimal digits: 12 of seconds since 0001-01-01 UTC
// and 9 of nanoseconds. Fixed width, so byte order is time order (sorted
// sets order members bytewise, ZRANGEBYLEX ranges work on them), exact to the
// nanosecond, and the Lua scripts compare them numerically in two halves
// that each fit a Lua number (a double) exactly. Unix nanoseconds would not
// fit one.
const (
	timeLen = 21
	// unixToYear1 is the number of seconds from 0001-01-01 to 1970-01-01.
	unixToYear1 = 62135596800
)

func encTime(t time.Time) string {
	return fmt.Sprintf("%012d%09d", t.Unix()+unixToYear1, t.Nanosecond())
}

// encOpt encodes t, or "" for the zero time: the scripts read "" as "none"
// (a NotBefore of "ready at any now", an unknown arrival).
func encOpt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return encTime(t)
}

func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != timeLen {
		return time.Time{}, fmt.Errorf("stored time %q has %d digits, want %d", s, len(s), timeLen)
	}
	sec, err1 := strconv.ParseInt(s[:12], 10, 64)
	nsec, err2 := strconv.ParseInt(s[12:], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return time.Unix(sec-unixToYear1, nsec).UTC(), nil
}

// checkTimes rejects times the encoding cannot hold (years 1-9999), as the
// SQLite store does.
func checkTimes(times ...time.Time) error {
	for _, t := range times {
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("time %s out of range (years 1-9999)", t)
		}
	}
	return nil
}

// record is a small binary encoding for values Redis stores opaquely
// (links, audit entries, intake tasks): a version byte, then fields, each a
// uvarint length and its bytes. Exact for any bytes, unlike JSON, which
// would replace invalid UTF-8 in strings.
type record struct{ b []byte }

const recordVersion = 1

func newRecord() *record { return &record{b: []byte{recordVersion}} }

func (r *record) str(s string) *record {
	r.b = binary.AppendUvarint(r.b, uint64(len(s)))
	r.b = append(r.b, s...)
	return r
}

func (r *record) time(t time.Time) *record { return r.str(encOpt(t)) }

func (r *record) int(i int64) *record { return r.str(strconv.FormatInt(i, 10)) }

func (r *record) String() string { return string(r.b) }

// reader decodes a record; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func readRecord(s string) *reader {
	if len(s) == 0 || s[0] != recordVersion {
		return &reader{err: errors.New("stored record has an unknown version")}
	}
	return &reader{b: []byte(s[1:])}
}

func (r *reader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || uint64(len(r.b)-k) < n {
		r.err = errors.New("stored record is truncated")
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

func (r *reader) time() time.Time {
	s := r.str()
	if r.err != nil {
		return time.Time{}
	}
	t, err := decTime(s)
	if err != nil {
		r.err = err
	}
	return t
}

func (r *reader) int() int64 {
	s := r.str()
	if r.err != nil {
		return 0
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.err = fmt.Errorf("stored record: %w", err)
	}
	return i
}

// done reports the first error, or trailing bytes nobody read.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		return errors.New("stored record has trailing bytes")
	}
	return r.err
}

// lenPrefixed joins names into one unambiguous key part: "a:b"+"c" and
// "a"+"b:c" must not meet.
func lenPrefixed(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return string(b)
}
