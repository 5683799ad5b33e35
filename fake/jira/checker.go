package jira

import (
	"testing"

	"vitrine/fake/openapi"
)

// defaultChecker is the Cloud request check used when Options.Checker is
// nil: fake/openapi over Atlassian's swagger-v3.v3.json (parsed once per
// test process), with /rest/api/2 paths checked against their /rest/api/3
// operations and wiki strings allowed where v3 wants ADF.
func defaultChecker(t testing.TB) *openapi.Checker {
	t.Helper()
	path, err := openapi.Fixture(openapi.JiraV3...)
	if err != nil {
		t.Fatalf("fake/jira: %v", err)
	}
	c, err := openapi.New(path, openapi.Options{
		RewritePath:     openapi.PrefixRewrite("/rest/api/2/", "/rest/api/3/"),
		StringBodyProps: []string{"description", "body", "environment"},
	})
	if err != nil {
		t.Fatalf("fake/jira: load %s: %v", path, err)
	}
	return c
}
