package pace

import (
	"fmt"
	"time"
)

// Limits is one credential's write budget. Zero fields take the defaults
// of GitHub(), except the per-subject ones (zero: no per-subject limit).
type Limits struct {
	// PerMinute caps writes in any 60 s. It is the ceiling of the adaptive
	// allowance: a secondary limit lowers the allowance below it.
	PerMinute int
	// PerHour caps writes in any 3600 s.
	PerHour int
	// MinGap is the least time between two writes of the credential.
	// GitHub asks integrations to leave a second between mutating requests
	// of one identity; bursts are what trip its secondary limits.
	MinGap time.Duration
	// PerSubject caps writes to one subject (a Jira issue) in any
	// SubjectWindow: Jira Cloud limits writes per issue. 0: no such limit.
	PerSubject    int
	SubjectWindow time.Duration
	// Floor is the lowest adaptive per-minute allowance (default 1).
	Floor int
	// Decrease multiplies the allowance on a secondary limit (default 0.5).
	Decrease float64
	// Increase is added to the allowance per clean minute, up to PerMinute
	// (default PerMinute/20, at least 1).
	Increase int
}

// GitHub is GitHub's documented budget for content-creating requests of one
// identity: 80 a minute, 500 an hour, a second between mutating requests.
func GitHub() Limits {
	return Limits{PerMinute: 80, PerHour: 500, MinGap: time.Second}
}

// JiraCloud is a conservative budget for a Jira Cloud account. Atlassian
// publishes per-issue write limits (20 writes per 2 s and 100 per 30 s,
// "Per-issue write limits" on developer.atlassian.com's rate-limiting page);
// 5 per 10 s stays under both with one window. Account-wide numbers are not
// published (burst limits per endpoint, hourly points), so those are starting
// points meant to be overridden per credential; the adaptive allowance covers
// the rest.
func JiraCloud() Limits {
	return Limits{
		PerMinute:     100,
		PerHour:       3000,
		MinGap:        100 * time.Millisecond,
		PerSubject:    5,
		SubjectWindow: 10 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	gh := GitHub()
	if l.PerMinute == 0 {
		l.PerMinute = gh.PerMinute
	}
	if l.PerHour == 0 {
		l.PerHour = gh.PerHour
	}
	if l.Floor == 0 {
		l.Floor = 1
	}
	if l.Floor > l.PerMinute {
		l.Floor = l.PerMinute
	}
	if l.Decrease == 0 {
		l.Decrease = 0.5
	}
	if l.Increase == 0 {
		l.Increase = max(1, l.PerMinute/20)
	}
	return l
}

// Validate reports limits that cannot work (no I/O).
func (l Limits) Validate() error {
	switch {
	case l.PerMinute < 0 || l.PerHour < 0 || l.PerSubject < 0 || l.Floor < 0 || l.Increase < 0:
		return fmt.Errorf("pace limits: negative count")
	case l.MinGap < 0 || l.SubjectWindow < 0:
		return fmt.Errorf("pace limits: negative duration")
	case l.Decrease < 0 || l.Decrease >= 1:
		return fmt.Errorf("pace limits: decrease %v must be in (0, 1)", l.Decrease)
	case l.PerSubject > 0 && l.SubjectWindow <= 0:
		return fmt.Errorf("pace limits: per_subject needs a subject window")
	}
	d := l.withDefaults()
	if d.PerMinute > d.PerHour {
		return fmt.Errorf("pace limits: per_minute %d exceeds per_hour %d", d.PerMinute, d.PerHour)
	}
	return nil
}
