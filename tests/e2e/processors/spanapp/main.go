// spanapp does what a Go service instrumented with OpenTelemetry and
// Pyroscope's Go integration (otel-profiling-go) does to its CPU profile:
// work runs inside pprof.Do with the span's labels (span_id, span_name,
// and here also trace_id, as hand-written wrappers add), so every CPU
// sample carries them. It writes:
//
//	DIR/spanapp.cpu.pb.gz  the CPU profile, gzip'd as runtime/pprof writes it
//	DIR/decisions.txt     one line per trace: "<trace_id> <keep 0|1>", the
//	                      decision of OpenTelemetry Go's TraceIDRatioBased
//	                      sampler (sdk/trace/sampling.go) at RATIO
//
// Trace ids are a fixed table: random-looking ones plus ids right at the
// sampler's bound. Usage: spanapp DIR RATIO. Standard library only.
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"
)

const workPerSpan = 120 * time.Millisecond

var traceIDs = []string{
	"4bf92f3577b34da6a3ce929d0e0e4736",
	"0af7651916cd43dd8448eb211c80319c",
	"5b8efff798038103d269b633813fc60c",
	"ffffffffffffffff0000000000000001",
	"00000000000000007fffffffffffffff",
	"00000000000000008000000000000000",
	"a1b2c3d4e5f60718293a4b5c6d7e8f90",
	"1234567890abcdef1234567890abcdef",
}

var spanNames = []string{"GET /users", "POST /orders", "db.query"}

// keep is the Go SDK's traceIDRatioSampler.ShouldSample decision.
func keep(traceID [16]byte, fraction float64) bool {
	if fraction >= 1 {
		return true
	}
	if fraction <= 0 {
		fraction = 0
	}
	bound := uint64(fraction * (1 << 63))
	x := binary.BigEndian.Uint64(traceID[8:16]) >> 1
	return x < bound
}

var sink uint64

// cpuTime is the process' CPU time: work is measured in it, not in wall
// time, so a busy machine cannot starve a span of samples.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func burn(d time.Duration) {
	x := sink | 1
	for end := cpuTime() + d; cpuTime() < end; {
		for i := 0; i < 20000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: spanapp DIR RATIO")
		os.Exit(2)
	}
	dir := os.Args[1]
	ratio, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil {
		panic(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	f, err := os.Create(filepath.Join(dir, ".spanapp.cpu.pb.gz"))
	if err != nil {
		panic(err)
	}
	decisions, err := os.Create(filepath.Join(dir, "decisions.txt"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	for i, tid := range traceIDs {
		var raw [16]byte
		if _, err := hex.Decode(raw[:], []byte(tid)); err != nil {
			panic(err)
		}
		fmt.Fprintf(decisions, "%s %d\n", tid, map[bool]int{false: 0, true: 1}[keep(raw, ratio)])
		spanID := fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15)
		labels := pprof.Labels("trace_id", tid, "span_id", spanID,
			"span_name", spanNames[i%len(spanNames)])
		pprof.Do(context.Background(), labels, func(context.Context) { burn(workPerSpan) })
	}
	burn(workPerSpan) // unlabelled work: samples without any span
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
	if err := decisions.Close(); err != nil {
		panic(err)
	}
	// renamed in place only when complete, so a watcher never reads half
	if err := os.Rename(filepath.Join(dir, ".spanapp.cpu.pb.gz"),
		filepath.Join(dir, "spanapp.cpu.pb.gz")); err != nil {
		panic(err)
	}
}
