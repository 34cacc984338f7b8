// target: a Go service for pprof_scrape's end-to-end tests and benchmark,
// standard library only.
//
// -mode plain: net/http/pprof on the default mux, as most services have it.
// -mode prod: the shape of a production service: pprof handlers on their
// own mux, each behind an X-Pprof-Token check (401) and a token-bucket
// rate limiter (429 with Retry-After).
//
// The workload has what the tests look for: a known hot function
// (main.hotFunction), a growing allocator (main.growOnce, 4096-byte
// objects, some retained), 50 goroutines parked in main.parked, and a
// mutex contended by main.contend.
//
// So that the alloc deltas profpipe computes can be checked against the
// runtime's own count, MemProfileRate is 1 (every allocation sampled, no
// scaling: the profile's numbers are exact), and /debug/pprof/allocs is
// wrapped: it stops the allocator, runs GCs (the heap profile is
// published as of a completed GC), records the allocator's own cumulative
// totals (and runtime.MemStats) as a snapshot, then serves the profile.
// Snapshot i is therefore exactly what allocs request i reflects for
// main.growOnce; GET /stats returns them all.
//
// Test controls: /control/reject?n=K&retry_after=S[&status=503][&as_date=1]
// answers the next K pprof requests with 429 (or that status) and
// Retry-After S seconds (or as an HTTP date S seconds ahead); /requests lists every pprof request with its
// status and query; /debug/pprof/delta_{heap,block,mutex} serve
// godeltaprof-style profiles with known values (godelta.go); /bad/html,
// /bad/truncated and /bad/big?mb=N[&random=1] serve bodies that are not
// a pprof; -silent ADDR accepts connections and never answers.
// -tls-name serves HTTPS with a self-signed certificate for that name;
// -tls-client-cert also requires a client certificate (mutual TLS);
// -bearer and -basic make the prod mode check those instead of the token.
// -tls-max 1.2 offers TLS 1.2 at most; -h2 offers HTTP/2 over TLS (ALPN)
// besides HTTP/1.1; /requests shows the protocol each request came over.
// -alloc-stacks N gives the heap and allocs profiles N distinct stacks at
// start (callPath). -render-every D serves /debug/pprof/{allocs,heap,
// goroutine,block,mutex} (without a query) from a rendering of the
// profile at most D old: the
// benchmark's one process stands for hundreds of services, and rendering
// each of their requests saturated it (see rendered).
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math"
	"math/big"
	"math/rand"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	allocSize      = 4096
	maxRetained    = 4096
	parkedCount    = 50
	contenders     = 4
	requestLogSize = 100000
)

func init() {
	runtime.MemProfileRate = 1
}

var (
	sink      float64
	sinkBytes []byte

	allocMu      sync.Mutex
	allocBytes   int64
	allocObjects int64
	retained     [][]byte

	hot sync.Mutex
)

//go:noinline
func hotFunction(n int) float64 {
	x := 0.0
	for i := 0; i < n; i++ {
		x += math.Sqrt(float64(i))
	}
	return x
}

func burn() {
	for {
		start := time.Now()
		for time.Since(start) < 20*time.Millisecond {
			sink += hotFunction(20000)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

//go:noinline
func growOnce() []byte {
	return make([]byte, allocSize)
}

func grow(every time.Duration) {
	for {
		allocMu.Lock()
		b := growOnce()
		allocBytes += allocSize
		allocObjects++
		if len(retained) < maxRetained && allocObjects%4 == 0 {
			retained = append(retained, b)
		}
		sinkBytes = b
		allocMu.Unlock()
		time.Sleep(every)
	}
}

// callPath allocates size bytes at the end of a call path of depth
// levels, each level one of eight call sites picked by three bits of p:
// distinct paths are distinct stacks, from one function. The eight cases
// are alike on purpose: each is a call site (a return address) of its own.
//
//go:noinline
func callPath(p uint64, depth, size int) []byte {
	if depth == 0 {
		return make([]byte, size)
	}
	switch p & 7 {
	case 0:
		return callPath(p>>3, depth-1, size)
	case 1:
		return callPath(p>>3, depth-1, size)
	case 2:
		return callPath(p>>3, depth-1, size)
	case 3:
		return callPath(p>>3, depth-1, size)
	case 4:
		return callPath(p>>3, depth-1, size)
	case 5:
		return callPath(p>>3, depth-1, size)
	case 6:
		return callPath(p>>3, depth-1, size)
	default:
		return callPath(p>>3, depth-1, size)
	}
}

// allocStacks gives the heap and allocs profiles n distinct stacks, as a
// service's profiles have hundreds to thousands: one allocation at the
// end of each of n pseudo-random paths 21 calls deep (the bench's old
// target, which grew its stacks from serving, reached 1,200 stacks of
// ~20 frames, 25 KB gzip'd), four times MemProfileRate so that the
// sampler keeps nearly every one (1 - e^-4), then two GCs to publish them.
func allocStacks(n int) {
	size := 4 * runtime.MemProfileRate
	if size < allocSize {
		size = allocSize
	}
	for i := 0; i < n; i++ {
		p := uint64(i+1) * 0x9e3779b97f4a7c15
		sinkBytes = callPath(p^p>>29, 21, size)
	}
	sinkBytes = nil
	runtime.GC()
	runtime.GC()
}

//go:noinline
func parked(ch chan struct{}) {
	<-ch
}

//go:noinline
func contend() {
	for {
		hot.Lock()
		time.Sleep(200 * time.Microsecond)
		hot.Unlock()
		runtime.Gosched()
	}
}

func startWorkload(parkCh chan struct{}) {
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	go burn()
	go grow(time.Millisecond)
	for i := 0; i < parkedCount; i++ {
		go parked(parkCh)
	}
	for i := 0; i < contenders; i++ {
		go contend()
	}
}

// ---- allocs with snapshots ----

type snapshot struct {
	UnixMs       int64  `json:"unix_ms"`
	AllocBytes   int64  `json:"alloc_bytes"`
	AllocObjects int64  `json:"alloc_objects"`
	TotalAlloc   uint64 `json:"total_alloc"`
	Mallocs      uint64 `json:"mallocs"`
}

var (
	snapMu    sync.Mutex
	snapshots []snapshot
)

func allocsHandler(w http.ResponseWriter, r *http.Request) {
	allocMu.Lock()
	defer allocMu.Unlock()
	// Two GCs: the first one's mark termination closes the profiling cycle
	// holding every allocation made so far; the second publishes it even
	// if a concurrent GC kept the first from publishing on its own.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	snapMu.Lock()
	snapshots = append(snapshots, snapshot{time.Now().UnixMilli(), allocBytes, allocObjects,
		ms.TotalAlloc, ms.Mallocs})
	snapMu.Unlock()
	pprof.Handler("allocs").ServeHTTP(w, r)
}

// rendered serves one profile type from its last rendering while that is
// younger than every, and renders it again after. With -port-count 500
// and five types scraped every 5 s, this one process answers 500
// requests a second that 500 services would each answer once a second;
// rendering each one (a gzip'd protobuf of every stack) took the target
// to 1.5-1.6 of this machine's 2 cores, and a scraper's requests
// then waited in its queue for up to seconds, so what a benchmark
// measured was the target's backlog. A body at most `every` old differs
// from the one a port served a scrape interval before, as a service's
// would. Requests with a query (debug=1, gc=1, seconds) go to
// net/http/pprof as usual.
func rendered(name string, every time.Duration) http.HandlerFunc {
	var mu sync.Mutex
	var at time.Time
	var body []byte
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			pprof.Handler(name).ServeHTTP(w, r)
			return
		}
		mu.Lock()
		if body == nil || time.Since(at) >= every {
			var b bytes.Buffer
			if err := rpprof.Lookup(name).WriteTo(&b, 0); err != nil {
				mu.Unlock()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			body, at = b.Bytes(), time.Now()
		}
		out := body
		mu.Unlock()
		// the headers net/http/pprof sets for a profile
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(out)
	}
}

func statsHandler(w http.ResponseWriter, r *http.Request) {
	snapMu.Lock()
	defer snapMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]interface{}{
		"pid": os.Getpid(), "snapshots": snapshots,
	})
}

// ---- request log, reject control, limiter, token ----

type request struct {
	UnixMs int64  `json:"unix_ms"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Port   string `json:"port"`
	Query  string `json:"query"`
	// what the client sent: protocol (HTTP/1.1, HTTP/2.0), Authorization
	// and every X-* header with all its values
	Proto   string              `json:"proto"`
	Auth    string              `json:"auth"`
	Headers map[string][]string `json:"headers"`
}

func xHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "X-") {
			out[k] = v
		}
	}
	return out
}

var (
	reqMu      sync.Mutex
	requests   []request
	rejectNext int64
	retryAfter int64 = 1
	// with as_date=1: Retry-After as an HTTP date retryAfter seconds ahead
	retryAsDate  int64
	rejectStatus int64 = http.StatusTooManyRequests
)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{w, 200}
		next.ServeHTTP(sw, r)
		if !strings.HasPrefix(r.URL.Path, "/debug/") && !strings.HasPrefix(r.URL.Path, "/bad/") {
			return
		}
		_, port, _ := net.SplitHostPort(r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
		reqMu.Lock()
		if len(requests) < requestLogSize {
			requests = append(requests, request{time.Now().UnixMilli(), r.URL.Path, sw.status, port,
				r.URL.RawQuery, r.Proto, r.Header.Get("Authorization"), xHeaders(r.Header)})
		}
		reqMu.Unlock()
	})
}

func rejecting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/debug/") {
			next.ServeHTTP(w, r)
			return
		}
		if atomic.AddInt64(&rejectNext, -1) >= 0 {
			ra := atomic.LoadInt64(&retryAfter)
			if atomic.LoadInt64(&retryAsDate) != 0 {
				w.Header().Set("Retry-After",
					time.Now().Add(time.Duration(ra)*time.Second).UTC().Format(http.TimeFormat))
			} else {
				w.Header().Set("Retry-After", strconv.FormatInt(ra, 10))
			}
			code := int(atomic.LoadInt64(&rejectStatus))
			http.Error(w, http.StatusText(code), code)
			return
		}
		atomic.StoreInt64(&rejectNext, 0)
		next.ServeHTTP(w, r)
	})
}

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

func (b *bucket) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var bearer, basicUser, basicPass string

func authorized(r *http.Request, token string) bool {
	if bearer != "" {
		return r.Header.Get("Authorization") == "Bearer "+bearer
	}
	if basicUser != "" {
		u, p, ok := r.BasicAuth()
		return ok && u == basicUser && p == basicPass
	}
	return r.Header.Get("X-Pprof-Token") == token
}

func guarded(token string, limit *bucket, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, token) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if !limit.allow() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ---- bodies that are not a pprof ----

func badHTML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, "<!DOCTYPE html><html><body><h1>Login required</h1></body></html>")
}

func badTruncated(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	rpprof.Lookup("goroutine").WriteTo(&buf, 0)
	w.Write(buf.Bytes()[:buf.Len()/2])
}

func badBig(w http.ResponseWriter, r *http.Request) {
	mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
	if mb <= 0 {
		mb = 2
	}
	zw := gzip.NewWriter(w)
	chunk := make([]byte, 1<<20)
	if r.URL.Query().Get("random") != "" {
		rand.Read(chunk) // incompressible: as large on the wire
	}
	for i := 0; i < mb; i++ {
		zw.Write(chunk)
	}
	zw.Close()
}

// selfSigned makes a CA-signed-by-itself certificate for name and writes
// the certificate (the CA file a client needs) to caPath.
func selfSigned(name, caPath string) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(caPath, certPEM, 0o644); err != nil {
		log.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// requireClientCert makes a self-signed client certificate (its own CA),
// writes it and its key to certPath and keyPath, and makes cfg require
// and verify a client certificate signed by it (mutual TLS).
func requireClientCert(cfg *tls.Config, certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "profpipe-client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644) != nil ||
		os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600) != nil {
		log.Fatal("cannot write the client certificate")
	}
	cfg.ClientCAs = x509.NewCertPool()
	cfg.ClientCAs.AddCert(cert)
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
}

var held []net.Conn

// listenSilent accepts connections and never answers (scrape timeouts).
func listenSilent(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6060", "listen address(es), comma-separated")
	portCount := flag.Int("port-count", 1, "listen on this many consecutive ports from each addr's")
	mode := flag.String("mode", "plain", "plain or prod")
	token := flag.String("token", "", "prod: expected X-Pprof-Token")
	rate := flag.Float64("rate", 100, "prod: pprof requests per second allowed")
	burst := flag.Float64("burst", 50, "prod: burst of the rate limiter")
	workload := flag.Bool("workload", true, "run the workload")
	silent := flag.String("silent", "", "also accept connections here and never answer")
	memRate := flag.Int("mem-rate", 1, "runtime.MemProfileRate (1: every allocation, exact)")
	exact := flag.Bool("exact-allocs", true, "allocs requests pause the allocator, GC and snapshot")
	tlsName := flag.String("tls-name", "", "serve TLS with a self-signed certificate for this name")
	tlsCA := flag.String("tls-ca", "ca.pem", "with -tls-name: where to write the certificate")
	clientCert := flag.String("tls-client-cert", "",
		"with -tls-name: require a client certificate; write it here (its key to this + .key)")
	flag.StringVar(&bearer, "bearer", "", "prod: require this bearer token instead of X-Pprof-Token")
	basic := flag.String("basic", "", "prod: require basic auth user:password instead")
	tlsMax := flag.String("tls-max", "", "with -tls-name: newest TLS version offered (1.2)")
	h2 := flag.Bool("h2", false, "with -tls-name: offer HTTP/2 (ALPN h2)")
	stacks := flag.Int("alloc-stacks", 0, "give the heap and allocs profiles this many distinct stacks at start")
	renderEvery := flag.Duration("render-every", 0,
		"plain: serve allocs, heap, goroutine, block and mutex from a rendering at most this old")
	flag.Parse()
	if u, p, ok := strings.Cut(*basic, ":"); ok {
		basicUser, basicPass = u, p
	}
	var tlsConfig *tls.Config
	if *tlsName != "" {
		tlsConfig = selfSigned(*tlsName, *tlsCA)
		if *clientCert != "" {
			requireClientCert(tlsConfig, *clientCert, *clientCert+".key")
		}
		if *tlsMax == "1.2" {
			tlsConfig.MaxVersion = tls.VersionTLS12
		}
	}
	runtime.MemProfileRate = *memRate
	allocStacks(*stacks)

	if *silent != "" {
		listenSilent(*silent)
	}

	parkCh := make(chan struct{})
	if *workload {
		startWorkload(parkCh)
	}

	var root http.Handler
	if *mode == "prod" {
		limit := &bucket{tokens: *burst, last: time.Now(), rate: *rate, burst: *burst}
		g := func(h http.Handler) http.Handler { return guarded(*token, limit, h) }
		mux := http.NewServeMux()
		mux.Handle("/debug/pprof/", g(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", g(http.HandlerFunc(pprof.Profile)))
		if *exact {
			mux.Handle("/debug/pprof/allocs", g(http.HandlerFunc(allocsHandler)))
		}
		mux.HandleFunc("/stats", statsHandler)
		root = mux
	} else {
		// net/http/pprof registered itself on the default mux
		if *exact {
			http.HandleFunc("/debug/pprof/allocs", allocsHandler)
		}
		http.HandleFunc("/stats", statsHandler)
		http.HandleFunc("/bad/html", badHTML)
		http.HandleFunc("/bad/truncated", badTruncated)
		http.HandleFunc("/bad/big", badBig)
		if *renderEvery > 0 {
			for _, name := range []string{"allocs", "heap", "goroutine", "block", "mutex"} {
				if name != "allocs" || !*exact {
					http.HandleFunc("/debug/pprof/"+name, rendered(name, *renderEvery))
				}
			}
		}
		for _, k := range deltaKinds {
			http.HandleFunc(k.path, deltaHandler(k))
		}
		root = http.DefaultServeMux
	}
	control := http.NewServeMux()
	control.HandleFunc("/control/reject", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		s, _ := strconv.ParseInt(r.URL.Query().Get("retry_after"), 10, 64)
		if s > 0 {
			atomic.StoreInt64(&retryAfter, s)
		}
		code, _ := strconv.ParseInt(r.URL.Query().Get("status"), 10, 64)
		if code == 0 {
			code = http.StatusTooManyRequests
		}
		asDate, _ := strconv.ParseInt(r.URL.Query().Get("as_date"), 10, 64)
		atomic.StoreInt64(&rejectStatus, code)
		atomic.StoreInt64(&retryAsDate, asDate)
		atomic.StoreInt64(&rejectNext, n)
	})
	control.HandleFunc("/requests", func(w http.ResponseWriter, r *http.Request) {
		reqMu.Lock()
		defer reqMu.Unlock()
		json.NewEncoder(w).Encode(requests)
	})
	control.Handle("/", logged(rejecting(root)))

	var wg sync.WaitGroup
	for _, a := range strings.Split(*addr, ",") {
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			log.Fatal(err)
		}
		base, _ := strconv.Atoi(p)
		for i := 0; i < *portCount; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(base+i)))
			if err != nil {
				log.Fatal(err)
			}
			wg.Add(1)
			if tlsConfig != nil && *h2 {
				// ServeTLS adds "h2" to the offered protocols
				srv := &http.Server{Handler: control, TLSConfig: tlsConfig}
				go func() { defer wg.Done(); log.Fatal(srv.ServeTLS(ln, "", "")) }()
				continue
			}
			if tlsConfig != nil {
				ln = tls.NewListener(ln, tlsConfig)
			}
			go func() { defer wg.Done(); log.Fatal(http.Serve(ln, control)) }()
		}
	}
	fmt.Fprintf(os.Stderr, "target: %s mode, pid %d\n", *mode, os.Getpid())
	wg.Wait()
}
