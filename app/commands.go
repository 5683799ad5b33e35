package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"vitrine/config"
	"vitrine/mapping"
	"vitrine/mirror/page"
	"vitrine/scrub"
	"vitrine/store"
	"vitrine/worker"
)

// customerIDs returns every configured customer, or the one asked for.
func (rt *runtime) customerIDs(only string) ([]string, error) {
	var ids []string
	for _, c := range rt.rules.Customers {
		if only == "" || c.ID == only {
			ids = append(ids, c.ID)
		}
	}
	if only != "" && len(ids) == 0 {
		return nil, usageError("no customer %q in the rules", only)
	}
	return ids, nil
}

func actor() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "operator"
}

func runSync(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "sync")
	customer := fs.String("customer", "", "only this customer")
	dry := fs.Bool("dry-run", false, "print the planned operations and write nothing")
	confirm := fs.Bool("confirm-retract", false, "let a retraction the guard paused go through")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, owner: "sync", oneShot: true})
	if err != nil {
		return err
	}
	defer rt.close()
	ids, err := rt.customerIDs(*customer)
	if err != nil {
		return err
	}
	if *dry {
		if *customer == "" {
			gone, err := rt.engine.Departed(ctx)
			if err != nil {
				return err
			}
			ids = append(ids, gone...)
		}
		ops, err := rt.engine.DryRun(ctx, ids)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(iox.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "CUSTOMER\tTARGET\tACTION\tITEM")
		for _, op := range ops {
			ref := op.Ref
			if ref == "" {
				ref = op.Object
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", op.Customer, op.Target, op.Action, ref)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(iox.Stdout, "%d operations planned; nothing written (--dry-run)\n", len(ops))
		return nil
	}
	for _, id := range ids {
		if *confirm {
			if err := rt.engine.ConfirmRetract(ctx, id); err != nil {
				return err
			}
		}
		if err := rt.engine.ReconcileCustomer(ctx, id); err != nil {
			return err
		}
	}
	if *customer == "" {
		// A full sync is a reconcile: it also retracts customers that
		// left the rules but still have a stored view.
		if err := rt.engine.Enqueue(ctx, worker.ReconcileTask()); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := rt.engine.RunUntilIdle(ctx, "sync"); err != nil {
		return err
	}
	rep, err := rt.engine.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(iox.Stdout, "sync done in %s\n", time.Since(start).Round(time.Millisecond))
	for _, id := range ids {
		if why, ok := rep.Guarded[id]; ok {
			fmt.Fprintf(iox.Stdout, "customer %s PAUSED: %s\n", id, why)
		}
	}
	for src, msg := range rep.SourceErrors {
		fmt.Fprintf(iox.Stdout, "source %s ERROR: %s\n", src, msg)
	}
	for _, j := range rep.Parked {
		fmt.Fprintf(iox.Stdout, "parked %s: %s\n", j.Key, j.LastError)
	}
	if len(rep.Parked)+len(rep.SourceErrors) > 0 {
		// A sync that could not read its sources did not converge: cron
		// and CI must see it.
		return &ExitError{Code: 1, Err: fmt.Errorf("sync incomplete: %d keys parked, %d source errors (see `vitrine status`)", len(rep.Parked), len(rep.SourceErrors))}
	}
	return nil
}

func runPreview(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "preview")
	format := fs.String("format", "text", "text | json")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: vitrine preview CUSTOMER [--format text|json]")
	}
	if !oneOf(*format, "text", "json") {
		return usageError("--format %q: want text or json", *format)
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, owner: "preview"})
	if err != nil {
		return err
	}
	defer rt.close()
	id := fs.Arg(0)
	if _, err := rt.customerIDs(id); err != nil {
		return err
	}
	res, err := rt.engine.Preview(ctx, id)
	if err != nil {
		return err
	}
	if strings.EqualFold(*format, "json") {
		enc := json.NewEncoder(iox.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.View)
	}
	return writePreview(iox.Stdout, res.View)
}

// writePreview prints a view as plain text: what the customer would read.
func writePreview(w io.Writer, v mapping.View) error {
	name := v.Name
	if name == "" {
		name = "Project status"
	}
	fmt.Fprintf(w, "%s\n", name)
	if v.Health != "" {
		fmt.Fprintf(w, "Health: %s\n", strings.ReplaceAll(v.Health, "_", " "))
	}
	for i, u := range v.Updates {
		label := "Earlier update"
		if i == 0 {
			label = "Latest update"
		}
		fmt.Fprintf(w, "%s (%s, %s, %s): %s\n", label, u.Time.Format("2006-01-02"), u.Author, strings.ReplaceAll(u.Health, "_", " "), oneLine(u.Body.PlainText()))
	}
	if len(v.Milestones) > 0 {
		fmt.Fprintln(w, "\nMilestones")
		for _, m := range v.Milestones {
			line := "  " + scrub.InlineText(m.Name, scrub.TitlePlain)
			if m.Due != "" {
				line += "  due " + m.Due
			}
			if m.Progress != nil {
				line += fmt.Sprintf("  %d%%", *m.Progress)
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, g := range v.Groups {
		fmt.Fprintf(w, "\n%s\n", g)
		for _, it := range v.Items {
			if it.Status != g {
				continue
			}
			line := "  - " + scrub.InlineText(it.Title, scrub.TitlePlain)
			if it.Due != "" {
				line += "  (due " + it.Due + ")"
			}
			if it.Progress != nil {
				line += fmt.Sprintf("  %d%%", *it.Progress)
			}
			fmt.Fprintln(w, line)
			if len(it.Assignees) > 0 {
				fmt.Fprintf(w, "      assigned to %s\n", strings.Join(it.Assignees, ", "))
			}
			for _, f := range it.Fields {
				fmt.Fprintf(w, "      %s: %s\n", f.Name, f.Value)
			}
			if body := strings.TrimSpace(it.Body.PlainText()); body != "" {
				for _, l := range strings.Split(body, "\n") {
					fmt.Fprintf(w, "      %s\n", l)
				}
			}
			for _, c := range it.Comments {
				fmt.Fprintf(w, "      > %s, %s: %s\n", c.Author, c.Time.Format("2006-01-02"), oneLine(c.Body.PlainText()))
			}
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func runExplain(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "explain")
	format := fs.String("format", "text", "text | json")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: vitrine explain REF")
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, owner: "explain"})
	if err != nil {
		return err
	}
	defer rt.close()
	ref := fs.Arg(0)
	exps, err := rt.engine.Explain(ctx, ref)
	if err != nil {
		return err
	}
	found := false
	for _, x := range exps {
		if x.Decision != nil {
			found = true
		}
	}
	if !found {
		return &ExitError{Code: 1, Err: fmt.Errorf("no item %q in any customer's sources", ref)}
	}
	if strings.EqualFold(*format, "json") {
		enc := json.NewEncoder(iox.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(exps)
	}
	for _, x := range exps {
		fmt.Fprintf(iox.Stdout, "customer %s:\n", x.Customer)
		if x.Decision == nil {
			fmt.Fprintln(iox.Stdout, "  not in this customer's sources")
			continue
		}
		d := x.Decision
		verdict := "excluded"
		if d.Selected {
			verdict = "selected"
		}
		fmt.Fprintf(iox.Stdout, "  %s (%s): %s by %s\n", d.Ref, d.Item, verdict, d.Rule)
		for _, n := range d.Notes {
			fmt.Fprintf(iox.Stdout, "  note: %s\n", n)
		}
		if d.Selected && len(d.Fields) > 0 {
			fmt.Fprintf(iox.Stdout, "  fields that leave: %s\n", strings.Join(d.Fields, ", "))
		}
		entries, err := rt.st.ListAudit(ctx, store.AuditQuery{Customer: x.Customer, Object: d.Item, Limit: 5})
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintf(iox.Stdout, "  audit %s %s %s %s\n", e.Time.UTC().Format(time.RFC3339), e.Target, e.Action, e.Rule)
		}
	}
	return nil
}

func runExport(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "export")
	out := fs.String("out", "", "directory to write token-named folders into")
	customer := fs.String("customer", "", "only this customer")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("usage: vitrine export --out DIR [--customer ID]")
	}
	rt, err := build(ctx, iox, buildOpts{store: true, tokens: true})
	if err != nil {
		return err
	}
	defer rt.close()
	ids, err := rt.customerIDs(*customer)
	if err != nil {
		return err
	}
	views := page.StoreViews{Views: rt.st}
	var pages []page.ExportPage
	for _, id := range ids {
		if !rt.hasPage(id) {
			continue
		}
		v, changed, ok, err := views.GetView(ctx, id)
		if err != nil {
			return err
		}
		pages = append(pages, page.ExportPage{Customer: id, View: v, Published: ok, Changed: changed, Feed: rt.feedMode(id)})
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := rt.tokens.Export(ctx, *out, page.ExportOptions{IDKey: rt.idKey(), Prune: *customer == ""}, pages...); err != nil {
		return err
	}
	fmt.Fprintf(iox.Stdout, "exported %d pages to %s\n", len(pages), *out)
	return nil
}

func (rt *runtime) hasPage(customer string) bool {
	for _, c := range rt.rules.Customers {
		if c.ID == customer {
			for _, t := range c.Targets {
				if t.Page != nil {
					return true
				}
			}
		}
	}
	return false
}

func (rt *runtime) pageURL(ctx context.Context, customer string) (string, error) {
	tok, err := rt.tokens.Token(ctx, customer)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(rt.env.PublicURL, "/") + "/p/" + tok + "/", nil
}

func runLinks(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "links")
	rotate := fs.String("rotate", "", "revoke this customer's link and print the new one")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	rt, err := build(ctx, iox, buildOpts{store: true, tokens: true})
	if err != nil {
		return err
	}
	defer rt.close()
	if *rotate != "" {
		if _, err := rt.customerIDs(*rotate); err != nil {
			return err
		}
		if _, err := rt.tokens.Rotate(ctx, *rotate); err != nil {
			return err
		}
		if err := rt.st.AppendAudit(ctx, store.AuditEntry{Time: time.Now(), Customer: *rotate, Target: "page", Action: "rotate", Detail: "page link rotated by " + actor()}); err != nil {
			return err
		}
		u, err := rt.pageURL(ctx, *rotate)
		if err != nil {
			return err
		}
		fmt.Fprintf(iox.Stdout, "customer %s page: %s\n", *rotate, u)
		fmt.Fprintln(iox.Stdout, "the previous link now answers 404")
		return nil
	}
	for _, c := range rt.rules.Customers {
		if !rt.hasPage(c.ID) {
			continue
		}
		u, err := rt.pageURL(ctx, c.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(iox.Stdout, "customer %s page: %s\n", c.ID, u)
	}
	return nil
}

func runRetract(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "retract")
	customer := fs.String("customer", "", "the customer to retract")
	target := fs.String("target", "", "only this target (e.g. github:acme/acme-status); default: the page and every target")
	resume := fs.Bool("resume", false, "lift an earlier emergency retract")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if *customer == "" {
		return usageError("usage: vitrine retract --customer ID [--target T] [--resume]")
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, owner: "retract", oneShot: true})
	if err != nil {
		return err
	}
	defer rt.close()
	if _, err := rt.customerIDs(*customer); err != nil {
		return err
	}
	if *resume {
		if err := rt.engine.Resume(ctx, *customer, *target, actor()); err != nil {
			return err
		}
	} else if err := rt.engine.EmergencyRetract(ctx, *customer, *target, actor()); err != nil {
		return err
	}
	if err := rt.engine.RunUntilIdle(ctx, "retract"); err != nil {
		return err
	}
	if *resume {
		fmt.Fprintf(iox.Stdout, "customer %s resumed\n", *customer)
	} else {
		fmt.Fprintf(iox.Stdout, "customer %s retracted; `vitrine retract --customer %s --resume` republishes\n", *customer, *customer)
	}
	return nil
}

func runAudit(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "audit")
	customer := fs.String("customer", "", "the customer")
	since := fs.String("since", "", "RFC 3339 time or a duration such as 24h")
	format := fs.String("format", "text", "text | json")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if *customer == "" {
		return usageError("usage: vitrine audit --customer ID [--since T] [--format json]")
	}
	var t time.Time
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil {
			t = time.Now().Add(-d)
		} else if t, err = time.Parse(time.RFC3339, *since); err != nil {
			return usageError("--since %q: want RFC 3339 or a duration such as 24h", *since)
		}
	}
	rt, err := build(ctx, iox, buildOpts{store: true})
	if err != nil {
		return err
	}
	defer rt.close()
	entries, err := rt.st.ListAudit(ctx, store.AuditQuery{Customer: *customer, Since: t})
	if err != nil {
		return err
	}
	if strings.EqualFold(*format, "json") {
		enc := json.NewEncoder(iox.Stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(iox.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tTARGET\tACTION\tOBJECT\tRULE\tHASH")
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Target, e.Action, e.Object, e.Rule, e.Hash)
	}
	return w.Flush()
}

func runStatus(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "status")
	format := fs.String("format", "text", "text | json")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	rt, err := build(ctx, iox, buildOpts{engine: true, owner: "status"})
	if err != nil {
		return err
	}
	defer rt.close()
	rep, err := rt.engine.Status(ctx)
	if err != nil {
		return err
	}
	if strings.EqualFold(*format, "json") {
		enc := json.NewEncoder(iox.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	q := rep.Queue
	fmt.Fprintf(iox.Stdout, "queue: %d ready, %d scheduled, %d in flight, %d parked, oldest %s\n",
		q.Ready, q.Waiting, q.InFlight, q.Parked, q.Oldest.Round(time.Second))
	if q.Intake > 0 {
		fmt.Fprintf(iox.Stdout, "intake: %d accepted deliveries not yet queued\n", q.Intake)
	}
	for _, j := range rep.Parked {
		fmt.Fprintf(iox.Stdout, "parked %s after %d attempts: %s\n", j.Key, j.Attempt, j.LastError)
	}
	for _, k := range sortedKeys(rep.SourceErrors) {
		fmt.Fprintf(iox.Stdout, "source error %s: %s\n", k, rep.SourceErrors[k])
	}
	for _, k := range sortedKeys(rep.Guarded) {
		fmt.Fprintf(iox.Stdout, "customer %s paused by the retract guard: %s\n", k, rep.Guarded[k])
	}
	for _, k := range rep.Emergency {
		fmt.Fprintf(iox.Stdout, "emergency retract in force: %s\n", k)
	}
	for _, c := range rt.rules.Customers {
		if c.Paused {
			fmt.Fprintf(iox.Stdout, "customer %s paused in the rules\n", c.ID)
		}
	}
	for _, k := range sortedKeys(rep.LastSync) {
		fmt.Fprintf(iox.Stdout, "last sync %s: %s\n", k, rep.LastSync[k])
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func runValidate(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "validate")
	online := fs.Bool("online", false, "also check tokens, permissions, statuses, workflows and labels against the trackers")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	env, err := config.ParseEnviron(iox.Environ)
	if err != nil {
		fmt.Fprintln(iox.Stderr, err)
		return &ExitError{Code: 1, Err: errors.New("environment is invalid")}
	}
	_, _, err = loadRules(env.Config)
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(iox.Stderr, p.String())
			}
			return &ExitError{Code: 1, Err: fmt.Errorf("%d problems", len(probs))}
		}
		fmt.Fprintln(iox.Stderr, err)
		return &ExitError{Code: 1, Err: err}
	}
	if *online {
		rt, err := build(ctx, iox, buildOpts{engine: true, store: true, owner: "validate"})
		if err != nil {
			return err
		}
		defer rt.close()
		if err := rt.validateOnline(ctx); err != nil {
			fmt.Fprintln(iox.Stderr, err)
			return &ExitError{Code: 1, Err: errors.New("online checks failed")}
		}
	}
	fmt.Fprintf(iox.Stdout, "%s: ok\n", env.Config)
	return nil
}

// runBackup copies the SQLite store while vitrine serves (VACUUM INTO reads
// a consistent snapshot under WAL). Redis is backed up with its own tools.
func runBackup(ctx context.Context, iox IO, args []string) error {
	fs, cfg := newFlags(iox, "backup")
	out := fs.String("out", "", "file to write (must not exist)")
	if err := parseFlags(fs, cfg, &iox, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("usage: vitrine backup --out FILE")
	}
	rt, err := build(ctx, iox, buildOpts{store: true})
	if err != nil {
		return err
	}
	defer rt.close()
	b, ok := rt.st.(interface {
		Backup(ctx context.Context, dst string) error
	})
	if !ok {
		return &ExitError{Code: 2, Err: errors.New("backup copies the SQLite store; back Redis up with its AOF/RDB files (see docs/deploy.md)")}
	}
	if err := b.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(iox.Stdout, "store copied to %s\n", *out)
	return nil
}
