// profgen runs a small workload that exercises every Go runtime profile and
// writes each one, gzip'd protobuf as net/http/pprof would serve it, into
// the directory given as the only argument: cpu.pb.gz, heap.pb.gz,
// allocs.pb.gz, goroutine.pb.gz, block.pb.gz, mutex.pb.gz and
// threadcreate.pb.gz. End-to-end tests use the files as real-world input:
// every profile type a Go service produces, from the real runtime.
//
// Standard library only; build with GO111MODULE=off.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

const (
	cpuDuration   = time.Second
	parkedWorkers = 8
	mutexWorkers  = 4
	allocBatch    = 1 << 12
)

var sink [][]byte

// hotLoop burns CPU in a function with a recognizable name.
func hotLoop(until time.Time) uint64 {
	var x uint64 = 1
	for time.Now().Before(until) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// allocate keeps some allocations live (inuse) and drops others (alloc).
func allocate(n int) {
	for i := 0; i < n; i++ {
		b := make([]byte, 1024+i%512)
		if i%4 == 0 {
			sink = append(sink, b)
		}
	}
}

// parked goroutines show up in the goroutine profile.
func parked(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-stop
}

// contend makes mutex and block profile entries.
func contend(mu *sync.Mutex, rounds int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < rounds; i++ {
		mu.Lock()
		time.Sleep(100 * time.Microsecond)
		mu.Unlock()
	}
}

func write(dir, name string, fn func(f *os.File) error) error {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

func lookup(name string) func(f *os.File) error {
	return func(f *os.File) error { return pprof.Lookup(name).WriteTo(f, 0) }
}

func run(dir string) error {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stop := make(chan struct{})
	var parkedWG, workWG sync.WaitGroup
	for i := 0; i < parkedWorkers; i++ {
		parkedWG.Add(1)
		go parked(stop, &parkedWG)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pb.gz"))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	var mu sync.Mutex
	for i := 0; i < mutexWorkers; i++ {
		workWG.Add(1)
		go contend(&mu, 50, &workWG)
	}
	allocate(allocBatch)
	hotLoop(time.Now().Add(cpuDuration))
	workWG.Wait()
	pprof.StopCPUProfile()
	if err := cpu.Close(); err != nil {
		return err
	}
	runtime.GC() // heap profile reflects the last completed GC
	for _, name := range []string{"heap", "allocs", "goroutine", "block", "mutex", "threadcreate"} {
		if err := write(dir, name+".pb.gz", lookup(name)); err != nil {
			return err
		}
	}
	close(stop)
	parkedWG.Wait()
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: profgen DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "profgen:", err)
		os.Exit(1)
	}
}
