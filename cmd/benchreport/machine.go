package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine is where and when the figures were taken.
type machine struct {
	CPU       string
	Cores     int // logical CPUs
	Procs     int // GOMAXPROCS of the benchmark processes
	MemGiB    float64
	OS        string
	Kernel    string
	Go        string // `go version` of the toolchain that ran the benchmarks
	Date      time.Time
	LoadStart string // /proc/loadavg at the start and the end: the noise
	LoadEnd   string
	Took      time.Duration
	Quick     bool
}

func machineInfo(ctx context.Context, goBin string) machine {
	m := machine{Cores: runtime.NumCPU(), Procs: runtime.NumCPU(), Date: time.Now().UTC(), LoadStart: loadAvg()}
	if n, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && n > 0 {
		m.Procs = n
	}
	m.CPU = field("/proc/cpuinfo", "model name", ":")
	if m.CPU == "" {
		m.CPU = runtime.GOARCH
	}
	if kb := field("/proc/meminfo", "MemTotal", ":"); kb != "" {
		v, _ := strconv.ParseFloat(strings.Fields(kb)[0], 64)
		m.MemGiB = v / (1 << 20)
	}
	m.OS = strings.Trim(field("/etc/os-release", "PRETTY_NAME", "="), `"`)
	if m.OS == "" {
		m.OS = runtime.GOOS
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, goBin, "version").Output(); err == nil {
		m.Go = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	} else {
		m.Go = runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	}
	return m
}

// field finds the first "key<sep>value" line of a file.
func field(path, key, sep string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
