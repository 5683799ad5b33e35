package config

import "time"

// CancelledRetract is statuses.cancelled's default: cancelled items are
// retracted rather than shown under a word.
const CancelledRetract = "retract"

// ApplyDefaults fills every unset value with its default. Load calls it
// before Validate; rules built in code call it themselves. Applying it twice
// changes nothing.
func (r *Rules) ApplyDefaults() {
	if r.Reconcile.Interval.Duration == 0 {
		r.Reconcile.Interval.Duration = 10 * time.Minute
	}
	for i := range r.Customers {
		r.Customers[i].applyDefaults()
	}
}

func (c *Customer) applyDefaults() {
	set(&c.Timezone, "UTC")

	set(&c.Show.Title, "source")
	set(&c.Show.Body, "none")
	set(&c.Show.Comments, "none")
	set(&c.Show.CommentMarker, "[client]")
	set(&c.Show.CommentAuthor, "team")
	set(&c.Show.MilestoneDescription, "none")

	set(&c.Statuses.Default, "In progress")
	set(&c.Statuses.Done, "Done")
	set(&c.Statuses.Cancelled, CancelledRetract)

	for i := range c.Sources {
		s := &c.Sources[i]
		if s.GitHub != nil {
			set(&s.GitHub.StatusFrom, "state")
			set(&s.GitHub.TokenEnv, "GITHUB_TOKEN")
		}
		if s.Jira != nil {
			set(&s.Jira.Milestones, "versions")
			// email_env and token_env stay empty: the connector picks
			// JIRA_EMAIL with JIRA_API_TOKEN (Cloud) or JIRA_PAT (Data
			// Center) from what is set.
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Page != nil {
			set(&t.Page.Feed, "full")
		}
		if t.GitHub != nil {
			set(&t.GitHub.Retract, "neutralize")
			set(&t.GitHub.LabelPrefix, "status: ")
			set(&t.GitHub.TokenEnv, "GITHUB_TOKEN")
		}
		if t.Jira != nil {
			set(&t.Jira.Retract, "neutralize")
			set(&t.Jira.IssueType, "Task")
		}
	}
}

func set(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
