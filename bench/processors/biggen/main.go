// biggen writes a large real CPU profile for bench/processors/run.sh:
// eight mutually recursive functions pick their callee from a fixed
// pseudo-random sequence, so nearly every CPU sample has a stack of its
// own (about 700 distinct stacks, ~6 KB gzip'd, from 10 CPU seconds) up
// to ~50 frames deep (24 calls, each through call()), deeper and wider
// than profgen's profiles.
// Usage: biggen OUT.pb.gz CPU_SECONDS. Standard library only.
package main

import (
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	maxDepth   = 24
	burnRounds = 2000
	workers    = 2 // one per core here: twice the samples per second
)

type rng struct{ state uint64 }

func (r *rng) next() uint64 { // xorshift64: deterministic callee choices
	r.state ^= r.state << 13
	r.state ^= r.state >> 7
	r.state ^= r.state << 17
	return r.state
}

func burn(seed uint64) uint64 {
	x := seed | 1
	for i := 0; i < burnRounds; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

var fns [8]func(*rng, int)

func call(r *rng, d int) {
	r.state ^= burn(r.state) & 1
	if d <= 0 || r.next()%5 == 0 {
		return
	}
	fns[r.next()%8](r, d-1)
}

func alpha(r *rng, d int)   { call(r, d) }
func bravo(r *rng, d int)   { call(r, d) }
func charlie(r *rng, d int) { call(r, d) }
func delta(r *rng, d int)   { call(r, d) }
func echo(r *rng, d int)    { call(r, d) }
func foxtrot(r *rng, d int) { call(r, d) }
func golf(r *rng, d int)    { call(r, d) }
func hotel(r *rng, d int)   { call(r, d) }

// cpuTime is the process' CPU time: the profile gets the same number of
// samples on a busy machine as on an idle one.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	fns = [8]func(*rng, int){alpha, bravo, charlie, delta, echo, foxtrot, golf, hotel}
	seconds, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil {
		panic(err)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	end := time.Duration(seconds * float64(time.Second))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(r *rng) {
			defer wg.Done()
			for cpuTime() < end {
				fns[r.next()%8](r, maxDepth)
			}
		}(&rng{state: 88172645463325252 + uint64(w)})
	}
	wg.Wait()
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
}
