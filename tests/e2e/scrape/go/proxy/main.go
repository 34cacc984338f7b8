// proxy: a forward HTTP proxy for pprof_scrape's proxy_url e2e test,
// standard library only. It records every request it forwards (method,
// the absolute URL the client asked for, the X-Pprof-Token header it
// passed on, the upstream status) so the test can prove which scrapes
// went through it. -map NAME:PORT=HOST:PORT sends requests for an
// authority that does not resolve (e.g. a .invalid name) to a real
// address: a scrape of that name can only have succeeded through here.
// GET /recorded (a plain, non-proxy request) returns the records as JSON.
// CONNECT (https through the proxy) is refused, unless -connect: then
// the tunnel is opened (to the -map'ed address) and the CONNECT request's
// X-* and Proxy-Authorization headers are recorded with all their values.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

type record struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Token  string `json:"token"`
	Status int    `json:"status"`
	// CONNECT only: the headers the client sent to the proxy
	Headers map[string][]string `json:"headers,omitempty"`
}

var (
	mu      sync.Mutex
	records []record
	mapped  = map[string]string{}
	tunnel  = flag.Bool("connect", false, "open CONNECT tunnels (recording their headers)")
	// no proxy of our own, whatever the environment says
	upstream = &http.Transport{Proxy: nil}
)

var hopHeaders = []string{"Proxy-Connection", "Proxy-Authorization", "Connection",
	"Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func keep(r record) {
	mu.Lock()
	records = append(records, r)
	mu.Unlock()
}

func forward(w http.ResponseWriter, r *http.Request) {
	rec := record{Method: r.Method, URL: r.URL.String(), Token: r.Header.Get("X-Pprof-Token")}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Host = r.URL.Host
	if dest, ok := mapped[r.URL.Host]; ok {
		out.URL.Host = dest
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	resp, err := upstream.RoundTrip(out)
	if err != nil {
		rec.Status = http.StatusBadGateway
		keep(rec)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	rec.Status = resp.StatusCode
	keep(rec)
}

func connect(w http.ResponseWriter, r *http.Request) {
	rec := record{Method: r.Method, URL: r.Host, Headers: map[string][]string{}}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-") || k == "Proxy-Authorization" {
			rec.Headers[k] = v
		}
	}
	dest := r.Host
	if to, ok := mapped[r.Host]; ok {
		dest = to
	}
	up, err := net.Dial("tcp", dest)
	if err != nil {
		rec.Status = http.StatusBadGateway
		keep(rec)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	rec.Status = http.StatusOK
	keep(rec)
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { io.Copy(up, buf); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

func handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect && *tunnel:
		connect(w, r)
	case r.Method == http.MethodConnect:
		keep(record{Method: r.Method, URL: r.Host, Status: http.StatusMethodNotAllowed})
		http.Error(w, "CONNECT not supported", http.StatusMethodNotAllowed)
	case r.URL.IsAbs():
		forward(w, r)
	case r.URL.Path == "/recorded":
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(records)
	default:
		http.Error(w, "not a proxy request", http.StatusBadRequest)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3128", "listen address")
	maps := flag.String("map", "", "NAME:PORT=HOST:PORT[,...]: where to send requests for NAME:PORT")
	flag.Parse()
	for _, m := range strings.Split(*maps, ",") {
		if from, to, ok := strings.Cut(m, "="); ok {
			mapped[from] = to
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "proxy: listening on %s, pid %d\n", *addr, os.Getpid())
	log.Fatal(http.Serve(ln, http.HandlerFunc(handle)))
}
