// peer: the scraping work a plain Go program does for the same targets,
// as the yardstick for bench/scrape/run.sh. Standard library only.
//
// For every target and path it runs the same schedule as pprof_scrape
// (a start offset spread over the interval, then every interval), with
// keep-alive connections, reads the whole body and inflates it to check
// it is gzip: what any scraper must do at the least. It computes no
// deltas and builds no profile, so it is a lower bound for a scraper.
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var ok, failed, received int64

// counter counts the bytes read through it.
type counter struct{ r io.Reader }

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(&received, int64(n))
	return n, err
}

func scrape(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		atomic.AddInt64(&failed, 1)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		atomic.AddInt64(&failed, 1)
		return
	}
	zr, err := gzip.NewReader(counter{resp.Body})
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		atomic.AddInt64(&failed, 1)
		return
	}
	atomic.AddInt64(&ok, 1)
}

func loop(c *http.Client, url string, interval time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	h := fnv.New64a()
	h.Write([]byte(url))
	offset := time.Duration(h.Sum64() % uint64(interval))
	select {
	case <-time.After(offset):
	case <-stop:
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		scrape(c, url)
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

func main() {
	targets := flag.String("targets", "", "host:port list, comma-separated")
	paths := flag.String("paths", "/debug/pprof/allocs", "paths, comma-separated")
	interval := flag.Duration("interval", 5*time.Second, "scrape interval")
	duration := flag.Duration("duration", 30*time.Second, "how long to run")
	timeout := flag.Duration("timeout", 5*time.Second,
		"a request's whole time, as pprof_scrape's scrape_timeout")
	flag.Parse()

	c := &http.Client{
		Timeout:   *timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 8, MaxIdleConns: 100000},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, t := range strings.Split(*targets, ",") {
		for _, p := range strings.Split(*paths, ",") {
			wg.Add(1)
			go loop(c, "http://"+t+p, *interval, stop, &wg)
		}
	}
	time.Sleep(*duration)
	close(stop)
	wg.Wait()
	fmt.Fprintf(os.Stderr, "peer: %d ok, %d failed, %d bytes\n", ok, failed, received)
}
