package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel fixes it at 100 for user space on every architecture Go supports,
// whatever CONFIG_HZ is.
const clockTicks = 100

// procSample is one reading of a process's counters.
type procSample struct {
	cpu    time.Duration // user + system time
	rssKiB int64         // VmRSS
	hwmKiB int64         // VmHWM, the peak resident set
}

// readProc reads the CPU time of pid from /proc/PID/stat and its resident
// set from /proc/PID/status. "self" reads this process.
func readProc(pid string) (procSample, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procSample{}, fmt.Errorf("read process stats: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses itself: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("read process stats: malformed /proc/%s/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// After the name: state is field 3, utime field 14, stime field 15.
	if len(f) < 13 {
		return procSample{}, fmt.Errorf("read process stats: short /proc/%s/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("read process stats: malformed times in /proc/%s/stat", pid)
	}
	s := procSample{cpu: time.Duration(utime+stime) * time.Second / clockTicks}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return procSample{}, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.Lines(string(status)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &s.rssKiB
		case "VmHWM":
			dst = &s.hwmKiB
		default:
			continue
		}
		kib, _ := strings.CutSuffix(strings.TrimSpace(value), " kB")
		*dst, _ = strconv.ParseInt(kib, 10, 64)
	}
	return s, nil
}

// machineBusy reads the CPU time all processes of the machine have spent
// busy (neither idle nor waiting for I/O) from /proc/stat. Beside the
// server's and the driver's own, it shows whether something else competed
// for the CPUs during a run.
func machineBusy() (time.Duration, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read machine stats: %w", err)
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, errors.New("read machine stats: malformed /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user and nice.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, errors.New("read machine stats: malformed /proc/stat")
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}
