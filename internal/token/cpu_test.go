package token

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used so
// far, all threads, garbage collection included.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric from start (a processCPU reading taken
// just before the timed loop). On a shared machine the wall-clock ns/op
// counts the time other processes held the CPU; CPU time per operation
// does not, so it is the figure to compare builds by.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
	}
}
