package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// senderOf names the running serve process that owns the client end of a
// connection to the fake (remote is the client's address as the fake sees
// it), by its socket inode in /proc. Called with reqMu held.
func (w *world) senderOf(remote string) string {
	_, portStr, err := net.SplitHostPort(remote)
	if err != nil {
		return "?"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "?"
	}
	inode := ""
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				inode = fs[9]
			}
		}
		fh.Close()
	}
	if inode == "" || inode == "0" {
		return "?"
	}
	want := "socket:[" + inode + "]"
	for _, p := range w.running {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", p.cmd.Process.Pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && l == want {
				return p.name
			}
		}
	}
	return "?"
}
