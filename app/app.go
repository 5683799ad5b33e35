// Package app is vitrine's command line: it parses the command, builds the
// parts from the environment and the rules, and runs them. main only calls
// Run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ExitError carries a process exit code (validate problems, usage errors).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError is a mistake in the command line: exit code 2.
func usageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// IO is where a command reads its environment and writes its output.
type IO struct {
	Environ []string // os.Environ() form
	Stdout  io.Writer
	Stderr  io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, io IO, args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":    {"webhook intake, worker, periodic reconcile and the customer pages, until SIGTERM", runServe},
		"sync":     {"one full reconcile, then exit (--customer ID, --dry-run, --confirm-retract)", runSync},
		"preview":  {"exactly what a customer would see, without writing anything (CUSTOMER [--format text|json])", runPreview},
		"explain":  {"for each customer: which rule selected or excluded an item, the fields that would leave (REF)", runExplain},
		"export":   {"the read-only pages as static files in token-named folders (--out DIR [--customer ID])", runExport},
		"links":    {"each customer's page URL; --rotate ID revokes one customer's link and prints the new one", runLinks},
		"retract":  {"emergency stop: retract everything of a customer now (--customer ID [--target T] [--resume])", runRetract},
		"audit":    {"what a customer was shown, when, by which rule (--customer ID [--since T] [--format json])", runAudit},
		"status":   {"queue depth and age, parked items, source errors, last sync per customer and target", runStatus},
		"validate": {"check config and rules offline (--online: tokens, permissions, statuses, workflows)", runValidate},
		"demo":     {"the built-in demo: sample boards, embedded store, pages on 127.0.0.1:8080", runDemo},
		"backup":   {"copy the SQLite store while serving (--out FILE)", runBackup},
	}
}

// Run runs one vitrine command. args excludes the program name.
func Run(ctx context.Context, args []string, io IO) error {
	global := flag.NewFlagSet("vitrine", flag.ContinueOnError)
	global.SetOutput(io.Stderr)
	configPath := global.String("config", "", "rules file (default $VITRINE_CONFIG or ./vitrine.yaml)")
	global.Usage = func() { usage(io.Stderr) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: 2, Err: err}
	}
	rest := global.Args()
	if len(rest) == 0 {
		usage(io.Stderr)
		return &ExitError{Code: 2}
	}
	name, cmdArgs := rest[0], rest[1:]
	if name == "help" || name == "-h" || name == "--help" {
		usage(io.Stdout)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		usage(io.Stderr)
		return usageError("unknown command %q", name)
	}
	// --config may also follow the command name.
	if *configPath != "" {
		io.Environ = append(io.Environ, "VITRINE_CONFIG="+*configPath)
	}
	return cmd.run(ctx, io, cmdArgs)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vitrine [--config PATH] <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
}

// newFlags makes a command's flag set; --config is accepted after the
// command too.
func newFlags(io IO, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("vitrine "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	cfg := fs.String("config", "", "rules file (default $VITRINE_CONFIG or ./vitrine.yaml)")
	return fs, cfg
}

// parseFlags parses and applies a command-level --config.
func parseFlags(fs *flag.FlagSet, cfg *string, io *IO, args []string) error {
	// Flags may come after positional arguments (`preview acme --format json`).
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return &ExitError{Code: 0}
			}
			return &ExitError{Code: 2, Err: err}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if err := fs.Parse(positional); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if *cfg != "" {
		io.Environ = append(io.Environ, "VITRINE_CONFIG="+*cfg)
	}
	return nil
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}
