package leakhunt

import (
	"testing"

	"vitrine/config"
	"vitrine/item"
	"vitrine/mapping"
)

// Regression tests for what the hunt found, each as small as it gets.

func skipOpenBug(t *testing.T, name string) {
	t.Helper()
	if desc, open := knownBugs[name]; open && !*flagBugs {
		t.Skipf("BUG: %s (run with -bugs)", desc)
	}
}

func customer(id, label string, src config.Source) config.Customer {
	return config.Customer{ID: id, Name: id, Sources: []config.Source{src},
		Publish: config.Publish{Label: label}, Targets: []config.Target{{Page: &config.PageTarget{}}}}
}

// One container read under two source keys is still one container: an
// item both customers' rules select must be withheld from both, as it is
// when both name the source the same way. config.Validate treats these
// pairs as the same container (it makes them use different labels), but
// mapping.SourceKey gives them different keys, and conflicts are only
// looked for between customers reading the same key, so each customer's
// copy of the item is published. Found by TestLeakHunt with -bugs (seeds
// tagged bug=alias in testdata/seeds.txt). Board files: filekey_test.go.
func TestOneContainerUnderTwoKeysIsOneSourceForConflicts(t *testing.T) {
	skipOpenBug(t, "alias")
	cases := map[string][2]config.Source{
		"jira jql filters": {
			{Jira: &config.JiraSource{Project: "ACME"}},
			{Jira: &config.JiraSource{Project: "ACME", JQL: "component = Web"}},
		},
		"jira default and explicit site": {
			{Jira: &config.JiraSource{Project: "ACME"}},
			{Jira: &config.JiraSource{Project: "ACME", URL: "https://jira.example"}},
		},
		"github default and explicit host": {
			{GitHub: &config.GitHubSource{Repo: "agency/acme"}},
			{GitHub: &config.GitHubSource{Repo: "agency/acme", APIURL: "https://ghe.example/api/v3"}},
		},
	}
	for name, srcs := range cases {
		t.Run(name, func(t *testing.T) {
			rules := &config.Rules{Customers: []config.Customer{
				customer("acme", "acme-visible", srcs[0]),
				customer("beta", "beta-visible", srcs[1]),
			}}
			if name != "jira jql filters" {
				// Refusing two spellings of one container is a fix too
				// (a jql filter per customer is documented, so not there).
				checked := &config.Rules{Customers: append([]config.Customer(nil), rules.Customers...)}
				checked.ApplyDefaults()
				if err := checked.Validate(); err != nil {
					t.Logf("config refuses the pair: %v", err)
					return
				}
			}
			set, err := mapping.Compile(rules)
			if err != nil {
				t.Fatal(err)
			}
			// The same tracker item, as each source reads it.
			var snaps []item.Snapshot
			for _, s := range srcs {
				key := mapping.SourceKey(s)
				snaps = append(snaps, item.Snapshot{Source: key, Items: []item.Item{{
					ID: item.MakeID(key, "10001"), Source: key, Ref: "ACME-1", Title: "Tagged for both",
					Labels: []string{"acme-visible", "beta-visible"}, State: item.Open, CommentsLoaded: true,
				}}})
			}
			if snaps[0].Source == snaps[1].Source {
				t.Fatalf("both spell key %s: not an alias", snaps[0].Source)
			}
			for _, c := range []string{"acme", "beta"} {
				res, err := set.Curate(c, snaps, curationTime)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range res.View.Items {
					t.Errorf("customer %s is shown %s, which customer %s's rules select too (sources %s and %s are one container)",
						c, it.Key, map[string]string{"acme": "beta", "beta": "acme"}[c], snaps[0].Source, snaps[1].Source)
				}
			}
		})
	}
}

// The status item's /status comments count whatever its selection (that is
// its point: updates without publishing the item). But the hide label is
// documented to beat everything, and an issue under a security level the
// rules do not allow is never published: neither should let the status
// item's update text leave. Today both do.
func TestStatusItemUnderHideLabelOrSecurityLevelPublishesNoUpdate(t *testing.T) {
	skipOpenBug(t, "statusitem")
	src := config.Source{Jira: &config.JiraSource{Project: "ACME"}}
	key := mapping.SourceKey(src)
	for name, mod := range map[string]func(*item.Item, *item.Item){
		"hide label on the status item": func(it, _ *item.Item) { it.Labels = []string{"hidden"} },
		"hide label on its parent":      func(it, p *item.Item) { p.Labels = []string{"hidden"}; it.Parent = p.ID },
		"security level not allowed":    func(it, _ *item.Item) { it.SecurityLevel = "Staff only" },
	} {
		t.Run(name, func(t *testing.T) {
			c := customer("acme", "client-visible", src)
			c.Publish.HideLabel = "hidden"
			c.Publish.StatusItem = "ACME-1"
			set, err := mapping.Compile(&config.Rules{Customers: []config.Customer{c}})
			if err != nil {
				t.Fatal(err)
			}
			st := item.Item{ID: item.MakeID(key, "1"), Source: key, Ref: "ACME-1", Title: "Status", State: item.Open, CommentsLoaded: true,
				Comments: []item.Comment{{ID: "9", Author: "pm", Created: curationTime, Body: "/status off_track secret restructuring"}}}
			parent := item.Item{ID: item.MakeID(key, "2"), Source: key, Ref: "ACME-2", Title: "Parent", State: item.Open, CommentsLoaded: true}
			mod(&st, &parent)
			res, err := set.Curate("acme", []item.Snapshot{{Source: key, Items: []item.Item{st, parent}}}, curationTime)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.View.Updates) > 0 {
				t.Errorf("the status item's update is shown (health %s): %s", res.View.Health, res.View.Updates[0].Body.PlainText())
			}
		})
	}
}

// `when` must not depend on snapshots of sources the customer does not
// read: a milestone outside them reads as none, as in the view. Today the
// milestone name is looked up in every snapshot passed, so the selection
// changes with what else the caller passes (Curate with SourcesFor, or
// with every snapshot, as Explain does). Items name a milestone of another
// source only outside the connectors' contract; the fix is one line.
func TestWhenSeesOnlyMilestonesOfTheCustomersSources(t *testing.T) {
	skipOpenBug(t, "whenms")
	a := config.Source{GitHub: &config.GitHubSource{Repo: "agency/a"}}
	b := config.Source{GitHub: &config.GitHubSource{Repo: "agency/b"}}
	ka, kb := mapping.SourceKey(a), mapping.SourceKey(b)
	c := customer("acme", "v", a)
	c.Publish.When = `item.Milestone == "Launch"`
	set, err := mapping.Compile(&config.Rules{Customers: []config.Customer{c, customer("beta", "w", b)}})
	if err != nil {
		t.Fatal(err)
	}
	snapA := item.Snapshot{Source: ka, Items: []item.Item{{ID: item.MakeID(ka, "1"), Source: ka, Ref: "a#1", Title: "T",
		Labels: []string{"v"}, State: item.Open, Milestone: item.MakeID(kb, "m1"), CommentsLoaded: true}}}
	snapB := item.Snapshot{Source: kb, Milestones: []item.Milestone{{ID: item.MakeID(kb, "m1"), Source: kb, Name: "Launch"}}}
	alone, err := set.Curate("acme", []item.Snapshot{snapA}, curationTime)
	if err != nil {
		t.Fatal(err)
	}
	all, err := set.Curate("acme", []item.Snapshot{snapA, snapB}, curationTime)
	if err != nil {
		t.Fatal(err)
	}
	if len(alone.View.Items) != 0 || len(all.View.Items) != 0 {
		t.Errorf("published with its own snapshot: %d items, with another source's too: %d items; want 0 both times (%s / %s)",
			len(alone.View.Items), len(all.View.Items), alone.Decisions[0].Rule, all.Decisions[0].Rule)
	}
}
