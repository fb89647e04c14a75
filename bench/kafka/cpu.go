package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the CPU time used so far by this process (the load
// generator, and an in-process kfake with it) and by the server processes
// measured.
type cpuSample struct {
	self, servers time.Duration
	ok            bool // there are server processes and their times could be read (Linux /proc)
	// idle and total are the machine's idle and total CPU time in clock
	// ticks (from /proc/stat; both 0 when it cannot be read).
	idle, total int64
}

// machineCPU reads the idle (idle and iowait) and total clock ticks of all
// CPUs from the first line of /proc/stat.
func machineCPU() (idle, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	// user nice system idle iowait irq softirq; then steal (time the host
	// gave to others) and guest time (already counted in user), left out
	for i, v := range f[1:min(len(f), 8)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total
}

func sampleCPU(serverPIDs []int) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.idle, s.total = machineCPU()
	s.ok = len(serverPIDs) > 0 // kfake in this process: its CPU is in self
	for _, pid := range serverPIDs {
		d, ok := processCPU(pid)
		s.servers += d
		s.ok = s.ok && ok
	}
	return s
}

// processCPU sums the run time of pid's threads from
// /proc/<pid>/task/*/schedstat (nanoseconds, unlike the clock ticks of
// /proc/<pid>/stat).
func processCPU(pid int) (time.Duration, bool) {
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "schedstat"))
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += time.Duration(ns)
	}
	return sum, true
}

// idleShare is the share of the machine's CPU time that was idle between a
// and b (-1 when unknown).
func idleShare(a, b cpuSample) float64 {
	if b.total <= a.total {
		return -1
	}
	return float64(b.idle-a.idle) / float64(b.total-a.total)
}

// perRecord is the CPU each side used per record between a and b, in µs
// (servers -1 when there are none or their times are unknown).
func perRecord(a, b cpuSample, records int) (self, servers float64) {
	self = float64(b.self-a.self) / float64(time.Microsecond) / float64(records)
	servers = -1
	if a.ok && b.ok {
		servers = float64(b.servers-a.servers) / float64(time.Microsecond) / float64(records)
	}
	return self, servers
}
