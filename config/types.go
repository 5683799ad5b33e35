package config

import "time"

// Pos is where a value stood in the rules files, for `file:line: field: problem`.
type Pos struct {
	File string
	Line int
}

// Rules is the whole rules file after includes are merged.
type Rules struct {
	Reconcile Reconcile  `yaml:"reconcile"`
	Customers []Customer `yaml:"customers"`
	Include   []string   `yaml:"include"`

	// Files lists every file read, in order, main file first.
	Files []string `yaml:"-"`

	keys map[string]Pos // where each field of the main file was written
}

type Reconcile struct {
	Interval Duration `yaml:"interval"` // default 10m (also when 0s)
}

type Customer struct {
	ID       string   `yaml:"id"`       // ^[a-z0-9][a-z0-9-]{0,62}$, unique
	Name     string   `yaml:"name"`     // shown on the page; the id never is
	Timezone string   `yaml:"timezone"` // IANA name, default UTC
	Paused   bool     `yaml:"paused"`
	Sources  []Source `yaml:"sources"`
	Publish  Publish  `yaml:"publish"`
	Show     Show     `yaml:"show"`
	Statuses Statuses `yaml:"statuses"`
	Dates    Dates    `yaml:"dates"`
	Targets  []Target `yaml:"targets"`

	Pos Pos `yaml:"-"`

	// Set by Load: where each field was written (paths relative to the
	// customer, "show.body"), which fields failed to decode, and the
	// customer's own field path ("customers[acme]").
	keys map[string]Pos
	bad  map[string]bool
	ref  string
}

// Source is exactly one of its pointers.
type Source struct {
	GitHub *GitHubSource `yaml:"github"`
	Jira   *JiraSource   `yaml:"jira"`
	File   *FileSource   `yaml:"file"`

	Pos Pos `yaml:"-"`
}

type GitHubSource struct {
	Repo       string `yaml:"repo"`        // owner/name
	StatusFrom string `yaml:"status_from"` // "state" (default) | "label_prefix:<prefix>"
	APIURL     string `yaml:"api_url"`     // default $VITRINE_GITHUB_API_URL or https://api.github.com
	TokenEnv   string `yaml:"token_env"`   // default GITHUB_TOKEN
}

type JiraSource struct {
	Project    string `yaml:"project"`
	JQL        string `yaml:"jql"`        // membership filter, wrapped as project = K AND (<jql>)
	Milestones string `yaml:"milestones"` // versions (default) | epics
	URL        string `yaml:"url"`        // default $JIRA_URL
	EmailEnv   string `yaml:"email_env"`  // default JIRA_EMAIL
	TokenEnv   string `yaml:"token_env"`  // default JIRA_API_TOKEN, or JIRA_PAT on Data Center
	// Fields names the custom fields to read: canonical name -> Jira field id.
	Fields map[string]string `yaml:"fields"`
}

type FileSource struct {
	Path string `yaml:"path"` // relative to the rules file that names it
	// Resolved is Path made absolute against the directory of the rules
	// file that names it; set by Load. Read the board from here.
	Resolved string `yaml:"-"`
	// Key is the board's path relative to the main rules file's folder,
	// slash-separated; set by Load. It is the source key (mapping.SourceKey):
	// one board named from two included files is one source, and one path
	// written in two folders names two.
	Key string `yaml:"-"`
}

type Publish struct {
	Label               string   `yaml:"label"`
	HideLabel           string   `yaml:"hide_label"`
	Inherit             bool     `yaml:"inherit"`
	When                string   `yaml:"when"`
	StatusAuthors       []string `yaml:"status_authors"`
	StatusItem          string   `yaml:"status_item"`           // display ref of the item whose /status comments count
	AllowSecurityLevels []string `yaml:"allow_security_levels"` // Jira security levels that may still be published

	WhenPos Pos `yaml:"-"`
}

type Show struct {
	Title                string   `yaml:"title"`           // source (default) | section
	Body                 string   `yaml:"body"`            // none (default) | section | all
	BodySection          string   `yaml:"body_section"`    // heading text
	InternalMarker       string   `yaml:"internal_marker"` // heading text
	Comments             string   `yaml:"comments"`        // none (default) | marked
	CommentMarker        string   `yaml:"comment_marker"`  // default "[client]"
	CommentAuthor        string   `yaml:"comment_author"`  // team (default) | name
	Dates                bool     `yaml:"dates"`
	Progress             bool     `yaml:"progress"`
	Assignees            bool     `yaml:"assignees"`
	MilestoneDescription string   `yaml:"milestone_description"` // none (default) | section
	LinkDomains          []string `yaml:"link_domains"`
	// Fields allow-lists custom fields by name; none leave by default.
	Fields []string `yaml:"fields"`
	// TeamName is the author shown with comment_author: team. Default
	// "<customer name> team" ("ACME team"), or "Agency team" without a name.
	TeamName string `yaml:"team_name"`
}

type Statuses struct {
	Map       OrderedMap `yaml:"map"`       // internal status -> customer word, in file order
	Default   string     `yaml:"default"`   // unmapped open statuses; default "In progress"
	Done      string     `yaml:"done"`      // default "Done"
	Cancelled string     `yaml:"cancelled"` // "retract" (default) or a word
}

type Dates struct {
	BufferDays int `yaml:"buffer_days"` // 0..365, default 0
}

// Target is exactly one of its pointers.
type Target struct {
	Page   *PageTarget   `yaml:"page"`
	GitHub *GitHubTarget `yaml:"github"`
	Jira   *JiraTarget   `yaml:"jira"`

	Pos Pos `yaml:"-"`
}

type PageTarget struct {
	Feed string `yaml:"feed"` // full (default) | titles | off
}

type GitHubTarget struct {
	Repo        string   `yaml:"repo"`
	Retract     string   `yaml:"retract"`      // neutralize (default) | delete
	TargetDelay Duration `yaml:"target_delay"` // >= 0, default 0s
	APIURL      string   `yaml:"api_url"`
	TokenEnv    string   `yaml:"token_env"`    // default GITHUB_TOKEN
	LabelPrefix string   `yaml:"label_prefix"` // managed status labels, default "status: "
}

type JiraTarget struct {
	Project     string              `yaml:"project"`
	IssueType   string              `yaml:"issue_type"`   // default Task
	Transitions map[string][]string `yaml:"transitions"`  // customer status -> transition names from the initial status
	Retract     string              `yaml:"retract"`      // neutralize (default) | delete
	TargetDelay Duration            `yaml:"target_delay"` // >= 0, default 0s
	URL         string              `yaml:"url"`          // default $JIRA_URL
	EmailEnv    string              `yaml:"email_env"`    // default JIRA_EMAIL
	TokenEnv    string              `yaml:"token_env"`    // default JIRA_API_TOKEN, or JIRA_PAT on Data Center
}

// Duration is a time.Duration written as "10m", "0s".
type Duration struct{ time.Duration }

// OrderedMap keeps a YAML mapping's keys in file order.
type OrderedMap struct {
	Keys   []string
	Values map[string]string
}

func (m OrderedMap) Get(k string) (string, bool) {
	v, ok := m.Values[k]
	return v, ok
}
