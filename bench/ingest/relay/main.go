// relay is bench/ingest's peer: the least a daemon can do with an
// upload and still own it before it answers. It reads each POST's body
// whole (sized from Content-Length, from a pool of buffers), writes it
// with a 4-byte length to one TCP connection, and answers 200 once the
// write returned. Nothing is inflated, parsed or checked. A second
// process in -sink mode reads and discards what the relay writes.
//
//	relay -listen 127.0.0.1:PORT -to 127.0.0.1:SINKPORT
//	relay -sink 127.0.0.1:SINKPORT
//
// Standard library only.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
)

func sink(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}()
	}
}

func main() {
	listen := flag.String("listen", "", "address to take POSTs on")
	to := flag.String("to", "", "the sink's address")
	sinkAddr := flag.String("sink", "", "run as the sink on this address")
	flag.Parse()
	if *sinkAddr != "" {
		sink(*sinkAddr)
		return
	}
	conn, err := net.Dial("tcp", *to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriterSize(conn, 64<<10)
	pool := sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
	http.HandleFunc("/ingest", func(w http.ResponseWriter, r *http.Request) {
		n := r.ContentLength
		if n < 0 || n > 64<<20 {
			http.Error(w, "Content-Length required, at most 64 MiB", http.StatusBadRequest)
			return
		}
		bp := pool.Get().(*[]byte)
		defer pool.Put(bp)
		if int64(cap(*bp)) < n {
			*bp = make([]byte, n)
		}
		body := (*bp)[:n]
		if _, err := io.ReadFull(r.Body, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(n))
		mu.Lock()
		_, err1 := out.Write(hdr[:])
		_, err2 := out.Write(body)
		err3 := out.Flush()
		mu.Unlock()
		if err1 != nil || err2 != nil || err3 != nil {
			http.Error(w, "sink write failed", http.StatusServiceUnavailable)
			return
		}
	})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(*listen, nil))
	os.Exit(1)
}
