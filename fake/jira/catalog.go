package jira

import (
	"strconv"
	"strings"
)

// The site-wide configuration every project shares.

type issueType struct {
	id, name, description string
	subtask               bool
	hierarchy             int
}

var issueTypes = []issueType{
	{id: "10000", name: "Epic", description: "A big user story that needs to be broken down.", hierarchy: 1},
	{id: "10001", name: "Story", description: "Functionality or a feature expressed as a user goal."},
	{id: "10002", name: "Task", description: "A small, distinct piece of work."},
	{id: "10003", name: "Bug", description: "A problem or error."},
	{id: "10004", name: "Sub-task", description: "A small piece of work that's part of a larger task.", subtask: true, hierarchy: -1},
}

func issueTypeByName(v string) *issueType {
	for i := range issueTypes {
		if strings.EqualFold(issueTypes[i].name, v) || issueTypes[i].id == v {
			return &issueTypes[i]
		}
	}
	return nil
}

type statusCategory struct {
	id        int
	key, name string
	color     string
}

var (
	catToDo       = statusCategory{id: 2, key: "new", name: "To Do", color: "blue-gray"}
	catInProgress = statusCategory{id: 4, key: "indeterminate", name: "In Progress", color: "yellow"}
	catDone       = statusCategory{id: 3, key: "done", name: "Done", color: "green"}
)

type status struct {
	id, name string
	category statusCategory
}

// The statuses of the workflow. "Archived" exists (issues can be put there
// by the agency) but no transition leads into it.
var statuses = []status{
	{id: "10000", name: "To Do", category: catToDo},
	{id: "3", name: "In Progress", category: catInProgress},
	{id: "10001", name: "In Review", category: catInProgress},
	{id: "10002", name: "Done", category: catDone},
	{id: "10003", name: "Archived", category: catDone},
}

const initialStatus = "To Do"

func statusByName(v string) *status {
	for i := range statuses {
		if strings.EqualFold(statuses[i].name, v) || statuses[i].id == v {
			return &statuses[i]
		}
	}
	return nil
}

func categoryByName(v string) *statusCategory {
	for _, c := range []*statusCategory{&catToDo, &catInProgress, &catDone} {
		if strings.EqualFold(c.name, v) || strings.EqualFold(c.key, v) || strconv.Itoa(c.id) == v {
			return c
		}
	}
	return nil
}

type resolution struct{ id, name, description string }

var resolutions = []resolution{
	{id: "10000", name: "Done", description: "Work has been completed on this issue."},
	{id: "10001", name: "Won't Do", description: "This issue won't be actioned."},
	{id: "10002", name: "Duplicate", description: "The problem is a duplicate of an existing issue."},
}

func resolutionByName(v string) *resolution {
	if v == "" {
		return nil
	}
	for i := range resolutions {
		if strings.EqualFold(resolutions[i].name, v) || resolutions[i].id == v {
			return &resolutions[i]
		}
	}
	return nil
}

type priority struct{ id, name string }

var priorities = []priority{{"1", "Highest"}, {"2", "High"}, {"3", "Medium"}, {"4", "Low"}, {"5", "Lowest"}}

func priorityByName(v string) *priority {
	for i := range priorities {
		if strings.EqualFold(priorities[i].name, v) || priorities[i].id == v {
			return &priorities[i]
		}
	}
	return nil
}

// transition is one workflow transition. From empty: a global transition
// (none here).
type transition struct {
	id, name, from, to string
	// needsResolution: the transition screen carries a required resolution.
	needsResolution bool
	clearResolution bool
}

// The workflow: To Do needs two hops to reach Done (Start, then Resolve,
// whose screen requires a resolution); Archived is unreachable from To Do.
var transitions = []transition{
	{id: "11", name: "Start", from: "To Do", to: "In Progress"},
	{id: "21", name: "Resolve", from: "In Progress", to: "Done", needsResolution: true},
	{id: "31", name: "Review", from: "In Progress", to: "In Review"},
	{id: "41", name: "Back to work", from: "In Review", to: "In Progress"},
	{id: "51", name: "Stop", from: "In Progress", to: "To Do"},
	{id: "61", name: "Reopen", from: "Done", to: "To Do", clearResolution: true},
	{id: "71", name: "Restore", from: "Archived", to: "To Do", clearResolution: true},
}

func transitionsFrom(st string) []transition {
	var out []transition
	for _, t := range transitions {
		if strings.EqualFold(t.from, st) {
			out = append(out, t)
		}
	}
	return out
}

// EpicLinkField is the Epic Link custom field (its usual id on Cloud).
const EpicLinkField = "customfield_10014"

// Custom fields the fake knows (others are rejected on create and edit).
const (
	StoryPointsField = "customfield_10016"
	StartDateField   = "customfield_10015"
	TeamField        = "customfield_10001"
	ClientNoteField  = "customfield_10050"
	BudgetField      = "customfield_10051"
)

type fieldDef struct {
	id, name   string
	custom     bool
	schemaType string
	items      string
	system     string
	customType string
	navigable  bool
	clauses    []string
}

var fieldCatalog = []fieldDef{
	{id: "summary", name: "Summary", schemaType: "string", system: "summary", navigable: true, clauses: []string{"summary"}},
	{id: "description", name: "Description", schemaType: "string", system: "description", navigable: true, clauses: []string{"description"}},
	{id: "issuetype", name: "Issue Type", schemaType: "issuetype", system: "issuetype", navigable: true, clauses: []string{"issuetype", "type"}},
	{id: "project", name: "Project", schemaType: "project", system: "project", navigable: true, clauses: []string{"project"}},
	{id: "status", name: "Status", schemaType: "status", system: "status", navigable: true, clauses: []string{"status"}},
	{id: "statuscategorychangedate", name: "Status Category Changed", schemaType: "datetime", system: "statuscategorychangedate", navigable: true, clauses: []string{"statusCategoryChangedDate"}},
	{id: "resolution", name: "Resolution", schemaType: "resolution", system: "resolution", navigable: true, clauses: []string{"resolution"}},
	{id: "resolutiondate", name: "Resolved", schemaType: "datetime", system: "resolutiondate", navigable: true, clauses: []string{"resolved", "resolutiondate"}},
	{id: "labels", name: "Labels", schemaType: "array", items: "string", system: "labels", navigable: true, clauses: []string{"labels"}},
	{id: "components", name: "Components", schemaType: "array", items: "component", system: "components", navigable: true, clauses: []string{"component"}},
	{id: "fixVersions", name: "Fix versions", schemaType: "array", items: "version", system: "fixVersions", navigable: true, clauses: []string{"fixVersion"}},
	{id: "versions", name: "Affects versions", schemaType: "array", items: "version", system: "versions", navigable: true, clauses: []string{"affectedVersion"}},
	{id: "parent", name: "Parent", schemaType: "issuelink", system: "parent", navigable: true, clauses: []string{"parent"}},
	{id: "subtasks", name: "Sub-tasks", schemaType: "array", items: "issuelinks", system: "subtasks", navigable: true, clauses: []string{"subtasks"}},
	{id: "issuelinks", name: "Linked Issues", schemaType: "array", items: "issuelinks", system: "issuelinks", navigable: true, clauses: []string{"issueLink"}},
	{id: "security", name: "Security Level", schemaType: "securitylevel", system: "security", navigable: true, clauses: []string{"level"}},
	{id: "duedate", name: "Due date", schemaType: "date", system: "duedate", navigable: true, clauses: []string{"due", "duedate"}},
	{id: "assignee", name: "Assignee", schemaType: "user", system: "assignee", navigable: true, clauses: []string{"assignee"}},
	{id: "reporter", name: "Reporter", schemaType: "user", system: "reporter", navigable: true, clauses: []string{"reporter"}},
	{id: "creator", name: "Creator", schemaType: "user", system: "creator", navigable: true, clauses: []string{"creator"}},
	{id: "priority", name: "Priority", schemaType: "priority", system: "priority", navigable: true, clauses: []string{"priority"}},
	{id: "created", name: "Created", schemaType: "datetime", system: "created", navigable: true, clauses: []string{"created", "createdDate"}},
	{id: "updated", name: "Updated", schemaType: "datetime", system: "updated", navigable: true, clauses: []string{"updated", "updatedDate"}},
	{id: "environment", name: "Environment", schemaType: "string", system: "environment", navigable: true, clauses: []string{"environment"}},
	{id: "attachment", name: "Attachment", schemaType: "array", items: "attachment", system: "attachment", clauses: []string{"attachments"}},
	{id: "comment", name: "Comment", schemaType: "comments-page", system: "comment", clauses: []string{"comment"}},
	{id: "timetracking", name: "Time tracking", schemaType: "timetracking", system: "timetracking", navigable: true},
	{id: "worklog", name: "Log Work", schemaType: "array", items: "worklog", system: "worklog"},
	{id: EpicLinkField, name: "Epic Link", custom: true, schemaType: "any", customType: "com.pyxis.greenhopper.jira:gh-epic-link", navigable: true, clauses: []string{"cf[10014]", "Epic Link"}},
	{id: StartDateField, name: "Start date", custom: true, schemaType: "date", customType: "com.atlassian.jira.plugin.system.customfieldtypes:datepicker", navigable: true, clauses: []string{"cf[10015]", "Start date"}},
	{id: StoryPointsField, name: "Story point estimate", custom: true, schemaType: "number", customType: "com.atlassian.jira.plugin.system.customfieldtypes:float", navigable: true, clauses: []string{"cf[10016]", "Story point estimate"}},
	{id: TeamField, name: "Team", custom: true, schemaType: "team", customType: "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team", navigable: true, clauses: []string{"cf[10001]", "Team"}},
	{id: ClientNoteField, name: "Client note", custom: true, schemaType: "string", customType: "com.atlassian.jira.plugin.system.customfieldtypes:textarea", navigable: true, clauses: []string{"cf[10050]", "Client note"}},
	{id: BudgetField, name: "Budget", custom: true, schemaType: "number", customType: "com.atlassian.jira.plugin.system.customfieldtypes:float", navigable: true, clauses: []string{"cf[10051]", "Budget"}},
}

func fieldByID(id string) *fieldDef {
	for i := range fieldCatalog {
		if fieldCatalog[i].id == id {
			return &fieldCatalog[i]
		}
	}
	return nil
}
