// svc: a Go service for the profile_metrics end-to-end test, standard
// library only, with net/http/pprof on the default mux.
//
// -leak N: starts N goroutines a second that block forever (a goroutine
// leak, on purpose).
// -parked N: N goroutines blocked for the whole run (many, but steady).
// -burn F: burns F of one core in main.burnKnownFunction (busy for
// F*100ms of every 100ms), and records its own CPU use (getrusage: user +
// system, all threads) every 200ms; GET /cpu lists "unix_ms cpu_seconds"
// lines, so that a test can compare any window of time with what the
// profiles say.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"net/http"
	_ "net/http/pprof"
	"sync"
	"syscall"
	"time"
)

var (
	sink  float64
	block = make(chan struct{})

	historyMu sync.Mutex
	history   []string
)

//go:noinline
func burnKnownFunction(n int) float64 {
	x := 0.0
	for i := 0; i < n; i++ {
		x += math.Sqrt(float64(i))
	}
	return x
}

func burn(fraction float64) {
	const period = 100 * time.Millisecond
	busy := time.Duration(fraction * float64(period))
	for {
		start := time.Now()
		for time.Since(start) < busy {
			sink += burnKnownFunction(5000)
		}
		if rest := period - time.Since(start); rest > 0 {
			time.Sleep(rest)
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func record() {
	for {
		line := fmt.Sprintf("%d %.6f", time.Now().UnixMilli(), cpuSeconds())
		historyMu.Lock()
		history = append(history, line)
		historyMu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

func leak(perSecond int) {
	for {
		for i := 0; i < perSecond; i++ {
			go func() { <-block }()
		}
		time.Sleep(time.Second)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	leakRate := flag.Int("leak", 0, "goroutines leaked per second")
	parked := flag.Int("parked", 0, "goroutines blocked for the whole run")
	burnFraction := flag.Float64("burn", 0, "fraction of one core to burn")
	flag.Parse()
	for i := 0; i < *parked; i++ {
		go func() { <-block }()
	}
	if *leakRate > 0 {
		go leak(*leakRate)
	}
	if *burnFraction > 0 {
		go burn(*burnFraction)
	}
	go record()
	http.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		historyMu.Lock()
		defer historyMu.Unlock()
		for _, l := range history {
			fmt.Fprintln(w, l)
		}
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
