// targets: the soak's scrape targets, standard library only. One Go
// process listens on -n consecutive ports from -port on 127.0.0.1 and
// serves net/http/pprof on each, so every port is one pprof_scrape
// target. A light workload keeps the profiles changing: an allocator
// that keeps a bounded ring of buffers, a little CPU, and parked
// goroutines. Nothing here grows with time: the process is part of the
// soak's harness, whose memory must stay flat too.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"time"
)

var sink []byte

func allocate(stop <-chan struct{}) {
	ring := make([][]byte, 256)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		ring[i%len(ring)] = make([]byte, 1024+(i%16)*512)
		sink = ring[i%len(ring)]
	}
}

func spin() {
	for {
		deadline := time.Now().Add(5 * time.Millisecond)
		x := 0
		for time.Now().Before(deadline) {
			x++
		}
		_ = x
		time.Sleep(95 * time.Millisecond)
	}
}

func parked(c <-chan struct{}) { <-c }

func main() {
	port := flag.Int("port", 0, "first port")
	n := flag.Int("n", 50, "how many consecutive ports")
	flag.Parse()
	if *port <= 0 {
		log.Fatal("-port is required")
	}
	runtime.MemProfileRate = 64 * 1024
	runtime.SetMutexProfileFraction(10)
	runtime.SetBlockProfileRate(1000000)
	block := make(chan struct{})
	for i := 0; i < 20; i++ {
		go parked(block)
	}
	go allocate(block)
	go spin()
	for i := 0; i < *n; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port+i))
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: 60 * time.Second}
		go func() { log.Fatal(srv.Serve(ln)) }()
	}
	fmt.Fprintf(os.Stdout, "ready %d\n", *n)
	select {}
}
