// memapp: a net/http/pprof service with a known allocation pattern for
// the heap profile's two views. One goroutine (main.workload) calls two
// functions:
//   - main.keepFunction allocates keepBlock-byte blocks into a ring of
//     keepBlocks that it keeps (filled at start, then one block replaced
//     per tick): it holds nearly all of inuse_space and allocates little;
//   - main.churnFunction allocates churnBlock bytes churnPerTick times a
//     tick and drops them at once: it allocates nearly all of alloc_space
//     and holds next to nothing when the collector looks.
//
// runtime.MemProfileRate is lowered so the profile samples most blocks.
package main

import (
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"time"
)

const (
	keepBlock    = 64 << 10
	keepBlocks   = 512 // 32 MiB kept
	churnBlock   = 256 << 10
	churnPerTick = 8 // 2 MiB dropped per tick, ~20 MiB/s
	tick         = 100 * time.Millisecond
	profileRate  = 4096
)

var (
	ring [keepBlocks][]byte
	sink byte
)

//go:noinline
func keepFunction(slot int) {
	b := make([]byte, keepBlock)
	b[slot%keepBlock] = byte(slot)
	ring[slot%keepBlocks] = b
}

//go:noinline
func churnFunction(n int) {
	b := make([]byte, churnBlock)
	b[n%churnBlock] = byte(n)
	sink ^= b[(n*7)%churnBlock]
}

func workload() {
	for i := 0; i < keepBlocks; i++ {
		keepFunction(i)
	}
	for slot := keepBlocks; ; slot++ {
		keepFunction(slot)
		for i := 0; i < churnPerTick; i++ {
			churnFunction(slot + i)
		}
		time.Sleep(tick)
	}
}

func main() {
	runtime.MemProfileRate = profileRate
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	go workload()
	http.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	log.Fatal(http.ListenAndServe(*addr, nil))
}
