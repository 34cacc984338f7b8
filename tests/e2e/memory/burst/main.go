// burst posts one pprof file to a Pyroscope /ingest endpoint from several
// concurrent clients, the way a fleet of SDKs does after an outage, and
// reports what the server answered:
//
//	burst -url URL -file F [-clients 4] [-requests 600]
//	      [-resume FILE -after 20 -deadline 120s]
//
// Burst phase: -requests posts in all, shared by -clients goroutines,
// none waiting after a refusal (the worst case). Each 503/429 must carry
// a Retry-After of whole seconds. Prints
// "burst ok=N refused=N bad_retry_after=N other=N".
//
// With -resume, it then waits for FILE to exist and, with the same HTTP
// client (same connections), sends -after more posts per client, each
// retried as the SDKs do: on 503/429 it sleeps Retry-After and tries
// again, until -deadline. Prints "after ok=N retries=N failed=N".
// Standard library only.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type tally struct {
	ok, refused, badRetryAfter, other, retries, failed atomic.Int64
}

func post(c *http.Client, url string, body []byte) (int, string, error) {
	resp, err := c.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func refused(code int) bool {
	return code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
}

func retryAfter(h string) (time.Duration, bool) {
	s, err := strconv.Atoi(h)
	if err != nil || s <= 0 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

func burst(c *http.Client, url string, body []byte, clients int, requests int64, t *tally) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= requests {
				code, ra, err := post(c, url, body)
				switch {
				case err == nil && code == http.StatusOK:
					t.ok.Add(1)
				case err == nil && refused(code):
					t.refused.Add(1)
					if _, good := retryAfter(ra); !good {
						t.badRetryAfter.Add(1)
					}
				default:
					t.other.Add(1)
					fmt.Fprintf(os.Stderr, "burst: code %d err %v\n", code, err)
				}
			}
		}()
	}
	wg.Wait()
}

func after(c *http.Client, url string, body []byte, clients, per int, deadline time.Time, t *tally) {
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < per; n++ {
				for {
					code, ra, err := post(c, url, body)
					if err == nil && code == http.StatusOK {
						t.ok.Add(1)
						break
					}
					wait, good := retryAfter(ra)
					if err != nil || !refused(code) || !good || time.Now().Add(wait).After(deadline) {
						t.failed.Add(1)
						fmt.Fprintf(os.Stderr, "after: code %d retry-after %q err %v\n", code, ra, err)
						break
					}
					t.retries.Add(1)
					time.Sleep(wait)
				}
			}
		}()
	}
	wg.Wait()
}

func main() {
	url := flag.String("url", "", "the /ingest URL with its query")
	file := flag.String("file", "", "the profile to post")
	clients := flag.Int("clients", 4, "concurrent clients")
	requests := flag.Int64("requests", 600, "posts in the burst, all clients together")
	resume := flag.String("resume", "", "after the burst, wait for this file, then post again")
	per := flag.Int("after", 20, "posts per client after -resume")
	limit := flag.Duration("deadline", 120*time.Second, "how long the posts after -resume may take")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *clients}
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var b tally
	burst(c, *url, body, *clients, *requests, &b)
	fmt.Printf("burst ok=%d refused=%d bad_retry_after=%d other=%d\n", b.ok.Load(), b.refused.Load(),
		b.badRetryAfter.Load(), b.other.Load())
	if *resume == "" {
		return
	}
	for {
		if _, err := os.Stat(*resume); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var a tally
	after(c, *url, body, *clients, *per, time.Now().Add(*limit), &a)
	fmt.Printf("after ok=%d retries=%d failed=%d\n", a.ok.Load(), a.retries.Load(), a.failed.Load())
}
