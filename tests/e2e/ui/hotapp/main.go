// hotapp: a net/http/pprof service with a known CPU split that it measures
// itself. One goroutine, locked to its OS thread, works in slices of
// sliceNs (97 ms: many CPU-profile periods of 10 ms and no multiple of
// one, so the profiler's ticks do not alias with the slices): in phase
// "a" main.hotFunction takes hotShareA of each slice and
// main.coldFunction the rest; GET /switch moves it to phase "b", where
// main.changedFunction takes changedShareB and main.hotFunction the rest.
// Each function spins until the thread's own CPU clock
// (CLOCK_THREAD_CPUTIME_ID) says its share of the slice is spent, and
// adds what it spent to the phase's totals: GET /split reports them.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

const (
	sliceNs              = 97_000_000
	hotShareA            = 0.75
	changedShareB        = 0.60
	clockThreadCPUTimeID = 3
)

type split struct {
	Hot     int64 `json:"hot"`
	Cold    int64 `json:"cold"`
	Changed int64 `json:"changed"`
}

var (
	mu     sync.Mutex
	phase  = "a"
	splits = map[string]*split{"a": {}, "b": {}}
	sink   uint64
)

func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// Each workload function spins in its own body (not in a shared helper),
// so that its samples have it as the leaf: it tops `pprof -top` by flat.

//go:noinline
func hotFunction(ns int64) int64 {
	start, x := threadCPU(), sink
	for threadCPU()-start < ns {
		for i := 0; i < 20000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
	return threadCPU() - start
}

//go:noinline
func coldFunction(ns int64) int64 {
	start, x := threadCPU(), sink
	for threadCPU()-start < ns {
		for i := 0; i < 20000; i++ {
			x = x*2862933555777941757 + 3037000493
		}
	}
	sink = x
	return threadCPU() - start
}

//go:noinline
func changedFunction(ns int64) int64 {
	start, x := threadCPU(), sink
	for threadCPU()-start < ns {
		for i := 0; i < 20000; i++ {
			x = x*3935559000370003845 + 2691343689449507681
		}
	}
	sink = x
	return threadCPU() - start
}

func work() {
	runtime.LockOSThread()
	for {
		mu.Lock()
		p := phase
		mu.Unlock()
		var s split
		if p == "a" {
			s.Hot = hotFunction(int64(sliceNs * hotShareA))
			s.Cold = coldFunction(int64(sliceNs * (1 - hotShareA)))
		} else {
			s.Changed = changedFunction(int64(sliceNs * changedShareB))
			s.Hot = hotFunction(int64(sliceNs * (1 - changedShareB)))
		}
		mu.Lock()
		t := splits[p]
		t.Hot += s.Hot
		t.Cold += s.Cold
		t.Changed += s.Changed
		mu.Unlock()
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6060", "listen address")
	flag.Parse()
	go work()
	http.HandleFunc("/switch", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		phase = "b"
		mu.Unlock()
		w.Write([]byte("b\n"))
	})
	http.HandleFunc("/split", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(map[string]interface{}{"phase": phase, "a": splits["a"], "b": splits["b"]})
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
