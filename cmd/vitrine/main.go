// Command vitrine mirrors a curated view of a private board to customers.
// See README.md; everything lives behind app.Run.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // customer time zones must resolve on hosts without zoneinfo

	"vitrine/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Run(ctx, os.Args[1:], app.IO{Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr})
	if err == nil {
		return
	}
	code := 1
	var ee *app.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	if msg := err.Error(); msg != "" && (ee == nil || ee.Err != nil) {
		fmt.Fprintln(os.Stderr, "vitrine:", msg)
	}
	os.Exit(code)
}
