package jira

import (
	"encoding/json"
	"strings"

	"vitrine/item"
)

// sdPublicComment is Jira Service Management's comment property: {"internal":
// true} marks a comment for agents only. Data Center JSM stores only this;
// Cloud also sets jsdPublic, but not always (an internal comment made
// through the property API keeps jsdPublic true), so both are read.
const sdPublicComment = "sd.public.comment"

type commentJSON struct {
	ID           string          `json:"id"`
	Author       *userJSON       `json:"author"`
	UpdateAuthor *userJSON       `json:"updateAuthor"`
	Body         json.RawMessage `json:"body"`
	Created      string          `json:"created"`
	Updated      string          `json:"updated"`
	JSDPublic    *bool           `json:"jsdPublic"`
	Visibility   *struct {
		Type       string `json:"type"`
		Value      string `json:"value"`
		Identifier string `json:"identifier"`
	} `json:"visibility"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// restricted: visible to a role or group only.
func (c *commentJSON) restricted() bool {
	v := c.Visibility
	return v != nil && (v.Type != "" || v.Value != "" || v.Identifier != "")
}

// internal: JSM marks it for agents only, by jsdPublic or by property.
// Properties are only present when the comment was read with
// expand=properties; callers that could not read them must treat the
// comment as not loaded rather than call this.
func (c *commentJSON) internal() bool {
	if c.JSDPublic != nil && !*c.JSDPublic {
		return true
	}
	for _, p := range c.Properties {
		if p.Key == sdPublicComment && internalValue(p.Value) {
			return true
		}
	}
	return false
}

// internalValue reads sd.public.comment's value. Anything but a clear
// "not internal" is internal: an unreadable property must not publish.
func internalValue(raw json.RawMessage) bool {
	var v struct {
		Internal any `json:"internal"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return true
	}
	switch x := v.Internal.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return !strings.EqualFold(strings.TrimSpace(x), "false")
	}
	return true
}

// bodyText is a v2 comment or description body: wiki markup as a string.
// Anything else (an ADF document from a misrouted v3 answer) yields
// ok=false and must not be shown.
func bodyText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// decodeComment turns a comment read with its properties into the canonical
// comment. Internal and Restricted are decided here and only here.
func decodeComment(c commentJSON) item.Comment {
	out := item.Comment{
		ID:         c.ID,
		Author:     c.Author.display(),
		Created:    timeOrZero(c.Created),
		Updated:    timeOrZero(c.Updated),
		Internal:   c.internal(),
		Restricted: c.restricted(),
	}
	if body, ok := bodyText(c.Body); ok {
		out.Body = WikiToMarkdown(body)
	} else {
		out.Internal = true // unreadable: never shown
	}
	if out.Updated.IsZero() {
		out.Updated = out.Created
	}
	return out
}
