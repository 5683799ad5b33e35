// Package cdp is a tiny Chrome DevTools Protocol client for tests: it starts
// a headless Chromium with a throw-away profile, opens a page, and drives it
// with the few commands the page tests need (device emulation, scripts off,
// request recording, navigation, evaluation, screenshots).
package cdp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/websocket"
)

// DefaultPath is where Debian's chromium package installs the browser.
const DefaultPath = "/usr/bin/chromium"

// origin is sent on the DevTools websocket (x/net/websocket always sends
// one) and allowed with --remote-allow-origins; Chromium refuses any other.
const origin = "http://localhost"

// Available reports whether a browser is installed at path ("" DefaultPath).
func Available(path string) bool {
	if path == "" {
		path = DefaultPath
	}
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Options adjust Launch.
type Options struct {
	Path string   // browser binary; "" DefaultPath
	Args []string // extra flags
	// Output receives the browser's own stdout and stderr (nil: discarded).
	Output io.Writer
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd     *exec.Cmd
	dir     string
	port    int
	conn    *conn // browser-level session
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// Launch starts a headless Chromium with a fresh profile and a DevTools port
// chosen by the browser (read back from DevToolsActivePort). ctx bounds the
// start-up only.
func Launch(ctx context.Context, o Options) (*Browser, error) {
	path := o.Path
	if path == "" {
		path = DefaultPath
	}
	dir, err := os.MkdirTemp("", "cdp-profile-")
	if err != nil {
		return nil, err
	}
	args := []string{
		"--headless",
		"--no-sandbox", // tests run as root in containers
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-default-apps",
		"--mute-audio",
		"--hide-scrollbars",
		"--user-data-dir=" + dir,
		"--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=0",
		"--remote-allow-origins=" + origin,
	}
	args = append(args, o.Args...)
	args = append(args, "about:blank")
	cmd := exec.Command(path, args...)
	if o.Output != nil {
		cmd.Stdout = o.Output
		cmd.Stderr = o.Output
	}
	// Its own process group, so Close ends the renderers and helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cdp: start %s: %w", path, err)
	}
	b := &Browser{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		b.waitErr = cmd.Wait()
		close(b.done)
	}()
	port, wsPath, err := b.activePort(ctx)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.port = port
	c, err := dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d%s", port, wsPath), nil)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.conn = c
	return b, nil
}

// activePort waits for the browser to write DevToolsActivePort: the port on
// the first line, the browser target's websocket path on the second.
func (b *Browser) activePort(ctx context.Context) (int, string, error) {
	file := filepath.Join(b.dir, "DevToolsActivePort")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(file); err == nil {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) == 2 {
				port, err := strconv.Atoi(strings.TrimSpace(lines[0]))
				if err == nil && port > 0 {
					return port, strings.TrimSpace(lines[1]), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, "", fmt.Errorf("cdp: waiting for DevToolsActivePort: %w", ctx.Err())
		case <-b.done:
			return 0, "", fmt.Errorf("cdp: browser exited during start-up: %v", b.waitErr)
		case <-tick.C:
		}
	}
}

// Close ends the browser (politely, then by its process group) and removes
// its profile.
func (b *Browser) Close() error {
	b.once.Do(func() {
		if b.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = b.conn.call(ctx, "Browser.close", nil, nil)
			cancel()
			b.conn.close()
		}
		select {
		case <-b.done:
		case <-time.After(3 * time.Second):
		}
		if b.cmd.Process != nil {
			// Only the group this Browser started.
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		}
		<-b.done
		os.RemoveAll(b.dir)
	})
	return nil
}

// NewPage opens a blank tab and attaches to it.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.conn.call(ctx, "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return nil, err
	}
	p := &Page{}
	c, err := dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/devtools/page/%s", b.port, created.TargetID), p.event)
	if err != nil {
		return nil, err
	}
	p.conn = c
	if err := p.Call(ctx, "Page.enable", nil, nil); err != nil {
		c.close()
		return nil, err
	}
	return p, nil
}

// Page is one tab.
type Page struct {
	conn *conn

	mu       sync.Mutex
	requests []string
	loaded   chan struct{} // closed by the next Page.loadEventFired
}

func (p *Page) event(method string, params json.RawMessage) {
	switch method {
	case "Network.requestWillBeSent":
		var e struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if json.Unmarshal(params, &e) == nil {
			p.mu.Lock()
			p.requests = append(p.requests, e.Request.URL)
			p.mu.Unlock()
		}
	case "Page.loadEventFired":
		p.mu.Lock()
		if p.loaded != nil {
			close(p.loaded)
			p.loaded = nil
		}
		p.mu.Unlock()
	}
}

// Call sends one command and decodes its result into out (may be nil).
func (p *Page) Call(ctx context.Context, method string, params, out any) error {
	return p.conn.call(ctx, method, params, out)
}

// Close detaches from the tab.
func (p *Page) Close() { p.conn.close() }

// Emulate sets a mobile viewport of w×h CSS pixels (device scale 1), so the
// page's viewport meta is honoured as on a phone.
func (p *Page) Emulate(ctx context.Context, w, h int) error {
	return p.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": w, "height": h, "deviceScaleFactor": 1, "mobile": true,
	}, nil)
}

// DisableScripts turns off the page's JavaScript. Evaluate still works:
// DevTools evaluation is not page script.
func (p *Page) DisableScripts(ctx context.Context) error {
	return p.Call(ctx, "Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil)
}

// RecordRequests enables the Network domain; Requests lists every URL the
// page requested from then on.
func (p *Page) RecordRequests(ctx context.Context) error {
	return p.Call(ctx, "Network.enable", nil, nil)
}

// Requests returns the URLs requested so far.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(ctx context.Context, url string) error {
	loaded := make(chan struct{})
	p.mu.Lock()
	p.loaded = loaded
	p.mu.Unlock()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call(ctx, "Page.navigate", map[string]any{"url": url}, &res); err != nil {
		return err
	}
	if res.ErrorText != "" {
		return fmt.Errorf("cdp: navigate %s: %s", url, res.ErrorText)
	}
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cdp: navigate %s: waiting for load: %w", url, ctx.Err())
	case <-p.conn.closed:
		return errors.New("cdp: connection closed during navigation")
	}
}

// Evaluate runs expr in the page and decodes its value (by value, so
// objects arrive as JSON) into out.
func (p *Page) Evaluate(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("cdp: evaluate: %s %s", e.Text, e.Exception.Description)
	}
	if out == nil {
		return nil
	}
	if len(res.Result.Value) == 0 {
		return fmt.Errorf("cdp: evaluate: no value (type %s)", res.Result.Type)
	}
	return json.Unmarshal(res.Result.Value, out)
}

// Screenshot writes a PNG of the viewport to path, creating its directory.
func (p *Page) Screenshot(ctx context.Context, path string) error {
	var res struct {
		Data string `json:"data"`
	}
	if err := p.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &res); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return fmt.Errorf("cdp: screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// conn is one DevTools websocket: commands matched to answers by id, events
// handed to onEvent from the reader goroutine.
type conn struct {
	ws      *websocket.Conn
	onEvent func(method string, params json.RawMessage)

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan message
	closed  chan struct{}
	once    sync.Once
}

type message struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error,omitempty"`
}

func dial(ctx context.Context, url string, onEvent func(string, json.RawMessage)) (*conn, error) {
	cfg, err := websocket.NewConfig(url, origin)
	if err != nil {
		return nil, err
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("cdp: dial %s: %w", url, err)
	}
	ws.MaxPayloadBytes = 64 << 20 // screenshots
	c := &conn{ws: ws, onEvent: onEvent, pending: map[int64]chan message{}, closed: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *conn) read() {
	defer c.close()
	for {
		var data []byte
		if err := websocket.Message.Receive(c.ws, &data); err != nil {
			return
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if m.Method != "" && c.onEvent != nil {
			c.onEvent(m.Method, m.Params)
		}
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.ws.Close()
	})
}

func (c *conn) call(ctx context.Context, method string, params, out any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan message, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c.mu.Lock()
	err = websocket.Message.Send(c.ws, string(data))
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cdp: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("cdp: %s: %s (%d) %s", method, m.Error.Message, m.Error.Code, m.Error.Data)
		}
		if out != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cdp: %s: %w", method, ctx.Err())
	case <-c.closed:
		return fmt.Errorf("cdp: %s: connection closed", method)
	}
}
