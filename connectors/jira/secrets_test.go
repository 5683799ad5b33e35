package jira_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vitrine/connectors"
	"vitrine/connectors/httpapi"
	"vitrine/connectors/jira"
	fakejira "vitrine/fake/jira"
	"vitrine/item"
)

// TestSecretsNeverReachErrorsOrLogs runs failing reads and writes with
// debug logging and looks for the credentials in every error and log line.
func TestSecretsNeverReachErrorsOrLogs(t *testing.T) {
	flavors(t, func(t *testing.T, fl fakejira.Flavor) {
		r := newRig(t, fl)
		var logs bytes.Buffer
		log := zerolog.New(&logs).Level(zerolog.DebugLevel)
		client := func(cred string) *httpapi.Client {
			c, err := httpapi.New(httpapi.Options{
				Credential: "jira:" + cred, Clock: r.clk, Logger: &log, Transport: r.f.HTTPClient().Transport,
				Sleep: func(context.Context, time.Duration) error { return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		key := r.f.CreateIssue(fakejira.SourceProject, fakejira.Fields{Summary: "x"})
		so := r.sourceOptions(srcKey, "")
		so.HTTP, so.Log = client(fakejira.ReaderCred), log
		src, err := jira.NewSource(so)
		if err != nil {
			t.Fatal(err)
		}
		to := r.targetOptions(nil)
		to.HTTP, to.Log = client(fakejira.WriterCred), log
		tg, err := jira.NewTarget(to)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		r.f.LoseAccess(fakejira.ReaderCred, "", http.StatusUnauthorized)
		r.f.LoseAccess(fakejira.WriterCred, "", http.StatusUnauthorized)
		var errs []error
		_, err = src.Fetch(ctx, item.MakeID(srcKey, r.id(key)), connectors.FetchOptions{Comments: true})
		errs = append(errs, err)
		_, err = src.Poll(ctx, "")
		errs = append(errs, err)
		_, err = tg.CreateItem(ctx, mirrorIssue("v1s", "x", "", "Done"))
		errs = append(errs, err)
		errs = append(errs, jira.CheckTarget(ctx, to, []string{"Done"}), jira.CheckSource(ctx, so))
		var all strings.Builder
		for i, e := range errs {
			if e == nil {
				t.Errorf("call %d succeeded with a revoked credential", i)
				continue
			}
			fmt.Fprintf(&all, "%v\n%+v\n%#v\n", e, e, e)
		}
		all.Write(logs.Bytes())
		fmt.Fprintf(&all, "%v %+v %#v %s", so.Auth, so.Auth, so.Auth, so.Auth)
		for _, secret := range []string{"reader-token", "writer-token", "reader-pat", "writer-pat", "reader@agency.example", "writer@agency.example", "Basic ", "Bearer "} {
			if strings.Contains(all.String(), secret) {
				t.Errorf("%q appears in errors or logs", secret)
			}
		}
		if logs.Len() == 0 {
			t.Error("nothing was logged: the check proves nothing")
		}
	})
}
