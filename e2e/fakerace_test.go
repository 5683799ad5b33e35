package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fakegh "vitrine/fake/github"
)

// overlapRecorder stands in for the test the fake reports to, keeping the
// overlaps it reports instead of failing on them.
type overlapRecorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (o *overlapRecorder) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.Contains(msg, "concurrent requests") {
		o.TB.Errorf("%s", msg)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, msg)
}

func (o *overlapRecorder) reported() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.msgs...)
}

// TestFakeGitHubNeverReportsASequentialClientAsOverlapping pins a bug of
// fake/github (fixed: it now leaves before writing the answer) that made the
// replica storm test fail now and then: a
// client that reads an answer and then sends its next request on the same
// object (here: list a mirror's comments, then PATCH it, as a pass of
// vitrine does) is reported as two requests "in flight at once" when the
// fake is busy. The fake stops tracking a request in a deferred call that
// runs after the answer was written; a client that has decoded the JSON
// (go-github does not wait for the end of a chunked body) can get its next
// request in first while that deferred call waits for the fake's mutex.
// Sixteen goroutines keep the mutex busy; the client itself never sends two
// requests at once. The race is probabilistic: it usually shows within a
// few hundred rounds.
func TestFakeGitHubNeverReportsASequentialClientAsOverlapping(t *testing.T) {
	t.Parallel()
	rec := &overlapRecorder{TB: t}
	gh := fakegh.New(rec, fakegh.Options{PrimaryLimit: 1 << 30})
	gh.AddRepo("client/status")
	gh.AddToken("tok", bot)
	gh.SetAccess("tok", "client/status", fakegh.AccessPush)
	is := gh.CreateIssue("client/status", fakegh.NewIssue{Title: "mirror", User: bot})
	for i := range 12 { // an answer well over net/http's 4 KB buffer
		gh.AddComment("client/status", is.Number, bot, strings.Repeat(fmt.Sprintf("comment %d ", i), 30))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 16 {
		other := gh.CreateIssue("client/status", fakegh.NewIssue{Title: fmt.Sprint("other ", i)}).Number
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/repos/client/status/issues/%d", gh.URL(), other), nil)
				req.Header.Set("Authorization", "token tok")
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	c := &http.Client{Timeout: 10 * time.Second}
	issue := fmt.Sprintf("%s/repos/client/status/issues/%d", gh.URL(), is.Number)
	deadline := time.Now().Add(6 * time.Second)
	rounds := 0
	for ; rounds < 400 && time.Now().Before(deadline) && len(rec.reported()) == 0; rounds++ {
		req, _ := http.NewRequest(http.MethodGet, issue+"/comments", nil)
		req.Header.Set("Authorization", "token tok")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v []map[string]any
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close() // as go-github does: decoded, closed, not read to EOF
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"title": fmt.Sprint("mirror ", rounds)})
		req, _ = http.NewRequest(http.MethodPatch, issue, bytes.NewReader(body))
		req.Header.Set("Authorization", "token tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if msgs := rec.reported(); len(msgs) > 0 {
		t.Errorf("BUG (fake/github): after %d strictly sequential rounds the fake reported an overlap: %s", rounds, msgs[0])
	}
}
