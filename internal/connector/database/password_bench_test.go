package database

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkHashOWASP measures one argon2id hash at OWASP's parameters, the
// bound of the password login: two cores log in at most
// 2 ÷ (CPU seconds per hash) times a second. It reports the CPU time per
// hash (cpu-ns/op, user + system of the whole process) beside the wall
// clock, so that the bound can be computed on a machine others share.
// With -cpu 2 and RunParallel both cores hash at once, as under load.
func BenchmarkHashOWASP(b *testing.B) {
	start := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := HashPassword("correct horse battery staple", OWASP); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time (user + system) the process has used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
