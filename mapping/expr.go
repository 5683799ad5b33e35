package mapping

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"vitrine/item"
)

// ExprItem is what a `publish.when` expression sees, as `item`:
//
//	when: 'item.Type != "bug" && !("draft" in item.Labels)'
//
// The expression only filters: nothing here leaves because a rule reads it.
type ExprItem struct {
	// Type is the tracker's own issue type ("Bug", "Story"; "" when the
	// tracker has none), as the tracker spells it.
	Type string
	// Kind is "issue", "subtask" or "epic".
	Kind string
	// Status is the tracker's status name, internal vocabulary ("In Review").
	Status string
	// State is "open", "done" or "cancelled".
	State string
	// Labels are the item's labels, exactly as written.
	Labels []string
	// Title is the source title, unscrubbed.
	Title string
	// Ref is the display reference ("agency/acme-internal#12", "ACME-12").
	Ref string
	// Milestone is the name of the item's milestone, "" when none.
	Milestone string
	// Assignees are the assignees' logins or account names.
	Assignees []string
	// Fields are the custom fields the source reads, by canonical name
	// (item.Fields["estimate"]); a missing name reads as nil.
	Fields map[string]any
	// Source is the source key ("github:agency/acme-internal").
	Source string
	// HasParent reports whether the item has a parent (in any source).
	HasParent bool
	// Due is the due date as "2006-01-02" in the customer's time zone,
	// without buffer, or "" when none. Strings of this form compare in date
	// order: item.Due != "" && item.Due < "2026-01-01".
	Due string
}

// exprEnv is the environment: one variable, `item`.
type exprEnv struct {
	Item ExprItem `expr:"item"`
}

// compileWhen compiles a `when` expression once. Empty means always true.
// The builtin now() is disabled: it reads the wall clock, and curation must
// give the same view for the same snapshots.
func compileWhen(src string, loc *time.Location) (*vm.Program, error) {
	if src == "" {
		return nil, nil
	}
	p, err := expr.Compile(src,
		expr.Env(exprEnv{}),
		expr.AsBool(),
		expr.DisableBuiltin("now"),
		expr.Timezone(loc.String()),
	)
	if err != nil {
		return nil, whenError(err)
	}
	return p, nil
}

// whenError drops expr's multi-line snippet and keeps the message and where
// in the expression it points.
func whenError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 1 {
			return fmt.Errorf("%s (expression line %d, column %d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fmt.Errorf("%s (column %d)", fe.Message, fe.Column+1)
	}
	return err
}

func exprItem(it *item.Item, milestoneName string, loc *time.Location) ExprItem {
	return ExprItem{
		Type:      it.Type,
		Kind:      string(it.Kind),
		Status:    it.Status,
		State:     string(it.State),
		Labels:    it.Labels,
		Title:     it.Title,
		Ref:       it.Ref,
		Milestone: milestoneName,
		Assignees: it.Assignees,
		Fields:    it.Fields,
		Source:    it.Source,
		HasParent: it.Parent != "",
		Due:       dueDate(it.Due, loc, 0),
	}
}

// evalWhen runs a compiled `when` on one item. A runtime error counts as
// false: an item is published only when the rule clearly says so.
func evalWhen(m *vm.VM, p *vm.Program, x ExprItem) (bool, error) {
	out, err := m.Run(p, exprEnv{Item: x})
	if err != nil {
		return false, whenError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("result %T is not a bool", out)
	}
	return b, nil
}

// dueDate turns a tracker due date into the customer's calendar date plus
// buffer days. Calendar arithmetic on the civil date, so a DST change in the
// buffer does not move the day.
func dueDate(d *item.Due, loc *time.Location, buffer int) string {
	if d == nil {
		return ""
	}
	var y int
	var m time.Month
	var day int
	switch {
	case d.Date != "":
		t, err := time.Parse("2006-01-02", d.Date)
		if err != nil {
			return ""
		}
		y, m, day = t.Date()
	case !d.At.IsZero():
		y, m, day = d.At.In(loc).Date()
	default:
		return ""
	}
	return time.Date(y, m, day+buffer, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}
