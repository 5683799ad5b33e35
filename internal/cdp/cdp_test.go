package cdp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScriptsOffEvaluateStillWorksAndRequestsAreRecorded(t *testing.T) {
	if !Available("") {
		t.Skip("no browser at " + DefaultPath + ": install the chromium package to run browser tests")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(`<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">` +
				`<title>static</title><link rel="stylesheet" href="/style.css"></head>` +
				`<body><p id="p">hello</p><script>document.title = "scripted"; document.getElementById("p").textContent = "changed";</script></body></html>`))
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			w.Write([]byte(`p{color:red}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Launch(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Emulate(ctx, 375, 812); err != nil {
		t.Fatal(err)
	}
	if err := p.DisableScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.RecordRequests(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}

	var got struct {
		Title string `json:"title"`
		Text  string `json:"text"`
		Width int    `json:"width"`
		Sum   int    `json:"sum"`
	}
	if err := p.Evaluate(ctx, `({title: document.title, text: document.getElementById("p").textContent, width: window.innerWidth, sum: 1+1})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "static" || got.Text != "hello" {
		t.Errorf("page script ran with scripts disabled: title %q, text %q", got.Title, got.Text)
	}
	if got.Sum != 2 {
		t.Errorf("devtools evaluation with scripts disabled: 1+1 = %d", got.Sum)
	}
	if got.Width != 375 {
		t.Errorf("innerWidth = %d, want 375", got.Width)
	}

	reqs := strings.Join(p.Requests(), "\n")
	for _, want := range []string{srv.URL + "/", srv.URL + "/style.css"} {
		if !strings.Contains(reqs+"\n", want+"\n") {
			t.Errorf("requests %q lack %s", reqs, want)
		}
	}

	if err := p.Evaluate(ctx, `throw new Error("boom")`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("evaluate exception: err = %v", err)
	}

	shot := filepath.Join(t.TempDir(), "shot.png")
	if err := p.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(data))
	}
}
