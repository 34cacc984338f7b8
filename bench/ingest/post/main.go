// post sends one file to a URL -n times from -c concurrent keep-alive
// clients, and fails unless every answer is 200:
//
//	post -url URL -file F [-n 100] [-c 4]
//
// Prints "post ok=N seconds=S". Standard library only.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "the /ingest URL with its query")
	file := flag.String("file", "", "the body to post")
	n := flag.Int64("n", 100, "posts, all clients together")
	c := flag.Int("c", 4, "concurrent clients")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var next, ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= *n {
				resp, err := client.Post(*url, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					bad.Add(1)
					fmt.Fprintln(os.Stderr, "post:", err)
					continue
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					if bad.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "post: HTTP %d: %s\n", resp.StatusCode, msg)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("post ok=%d seconds=%.3f\n", ok.Load(), time.Since(start).Seconds())
	if bad.Load() > 0 {
		os.Exit(1)
	}
}
