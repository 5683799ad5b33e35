package jira

import (
	"errors"
	"strings"
	"time"
)

// CheckJQL refuses a customer filter that could escape its wrapping
// `project = K AND (<jql>)`: unbalanced parentheses (") OR project = X ("
// would close the group early), an unterminated string, or an ORDER BY
// (which cannot sit inside parentheses and would reorder the cursor).
func CheckJQL(jql string) error {
	depth := 0
	var quote rune
	escaped := false
	words := strings.Builder{}
	for _, r := range jql {
		if quote != 0 {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == quote:
				quote = 0
			}
			words.WriteRune(' ')
			continue
		}
		switch r {
		case '"', '\'':
			quote = r
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return errors.New("jql has a ')' without its '(': it would escape its project filter")
			}
		}
		words.WriteRune(r)
	}
	if quote != 0 {
		return errors.New("jql has an unterminated string")
	}
	if depth != 0 {
		return errors.New("jql has a '(' without its ')'")
	}
	f := strings.Fields(strings.ToLower(words.String()))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "order" && f[i+1] == "by" {
			return errors.New("jql must not contain ORDER BY: it is wrapped as project = K AND (<jql>)")
		}
	}
	return nil
}

// jqlString quotes a value for JQL.
func jqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// jqlDate writes an instant as a JQL date in the searching user's zone:
// Jira reads JQL dates in that zone, minute precision. The minute is
// floored, so the bound never moves later than the instant.
func jqlDate(t time.Time, loc *time.Location) string {
	return jqlString(t.In(loc).Truncate(time.Minute).Format("2006-01-02 15:04"))
}

// membership is the JQL of what a source holds.
func membership(project, jql string) string {
	q := "project = " + jqlString(project)
	if strings.TrimSpace(jql) != "" {
		q += " AND (" + jql + ")"
	}
	return q
}
