// recorder is a stand-in Pyroscope server for the exporter's end-to-end
// tests. It decodes every request the way Pyroscope would (the push API's
// push.v1.PushRequest protobuf, or the legacy /ingest query and body),
// parses each pprof inside with github.com/google/pprof/profile, checks
// the tenant header and the credentials, answers with a scripted status,
// and writes one text line per request and per profile to -log:
//
//	req n=3 ms=1700000000123 path=/push.v1.PusherService/Push status=503 tenant=t1 auth=ok series=2
//	profile req=3 status=503 labels={__name__="process_cpu",service_name="a"} id=... sha=ab12.. types=samples/count,cpu/nanoseconds samples=17
//	ingest req=4 name=app{k=v} from=1 until=2 format=pprof spyName=x sampleRate=100
//	error req=5 msg=...
//
// Flags: -addr, -log, -script "503,503,200" (one status per request, the
// last one repeating), -retry-after N (sent with 429 and 503), -user and
// -pass or -bearer (required credentials), -tenant (required
// X-Scope-OrgID), -header NAME=VALUE (a required extra header), status 0
// in -script (hang: answer 503 only after -hang, 3s), -body "text" (sent
// with error statuses), -tls DIR (serve
// HTTPS with a CA made on the spot: DIR/ca.pem, and a client certificate
// DIR/client.pem + DIR/client-key.pem that is then required).
//
// recorder -make-push FILE -labels N writes to stdout a PushRequest of one
// series with service_name, __name__ and N more labels, FILE as its raw
// profile, and exits: hostile input for the receiver's tests.
//
// Standard library and Debian's github.com/google/pprof only; build with
// GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

var (
	addr       = flag.String("addr", "127.0.0.1:0", "listen address")
	logPath    = flag.String("log", "", "file to append records to")
	script     = flag.String("script", "200", "comma-separated statuses, the last repeats")
	retryAfter = flag.String("retry-after", "", "Retry-After value for 429 and 503")
	user       = flag.String("user", "", "required basic auth user")
	pass       = flag.String("pass", "", "required basic auth password")
	bearer     = flag.String("bearer", "", "required bearer token")
	tenant     = flag.String("tenant", "", "required X-Scope-OrgID")
	header     = flag.String("header", "", "required extra header, NAME=VALUE")
	hangFor    = flag.Duration("hang", 3*time.Second, "how long a scripted 0 (hang) waits before its 503")
	errBody    = flag.String("body", "scripted failure", "body of error answers")
	tlsDir     = flag.String("tls", "", "serve HTTPS; write ca.pem, client.pem, client-key.pem here")
	makePush   = flag.String("make-push", "", "write a PushRequest with this raw profile to stdout")
	nLabels    = flag.Int("labels", 0, "extra labels in the -make-push series")
)

// --- protobuf wire writing, for -make-push ---

func appendBytesField(b []byte, num uint64, data []byte) []byte {
	b = binary.AppendUvarint(b, num<<3|2)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func labelPair(name, value string) []byte {
	return appendBytesField(appendBytesField(nil, 1, []byte(name)), 2, []byte(value))
}

func writePush(rawPath string, extra int) {
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		log.Fatal(err)
	}
	var series []byte
	series = appendBytesField(series, 1, labelPair("service_name", "hostile"))
	series = appendBytesField(series, 1, labelPair("__name__", "process_cpu"))
	for i := 0; i < extra; i++ {
		series = appendBytesField(series, 1, labelPair(fmt.Sprintf("l%d", i), "v"))
	}
	sample := appendBytesField(appendBytesField(nil, 1, raw), 2, []byte("id-1"))
	series = appendBytesField(series, 2, sample)
	os.Stdout.Write(appendBytesField(nil, 1, series))
}

type recorder struct {
	mu       sync.Mutex
	n        int
	statuses []int
	out      *os.File
}

func (r *recorder) printf(format string, args ...interface{}) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

// --- protobuf wire reading, just enough for push.v1.PushRequest ---

type field struct {
	num  uint64
	wire uint64
	val  uint64
	data []byte
}

func readFields(b []byte) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad field key")
		}
		b = b[n:]
		f := field{num: key >> 3, wire: key & 7}
		switch f.wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			f.val, b = v, b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("truncated length-delimited field")
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("truncated fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("truncated fixed32")
			}
			b = b[4:]
		default:
			return nil, fmt.Errorf("unsupported wire type %d", f.wire)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

type sample struct {
	raw []byte
	id  string
}

type series struct {
	labels  map[string]string
	samples []sample
}

func decodePush(b []byte) ([]series, error) {
	fs, err := readFields(b)
	if err != nil {
		return nil, err
	}
	var out []series
	for _, f := range fs {
		if f.num != 1 || f.wire != 2 {
			return nil, fmt.Errorf("PushRequest: unexpected field %d", f.num)
		}
		s := series{labels: map[string]string{}}
		sfs, err := readFields(f.data)
		if err != nil {
			return nil, err
		}
		for _, sf := range sfs {
			switch sf.num {
			case 1:
				lfs, err := readFields(sf.data)
				if err != nil {
					return nil, err
				}
				var name, value string
				for _, lf := range lfs {
					if lf.num == 1 {
						name = string(lf.data)
					} else if lf.num == 2 {
						value = string(lf.data)
					}
				}
				if _, dup := s.labels[name]; dup {
					return nil, fmt.Errorf("duplicate label %q", name)
				}
				s.labels[name] = value
			case 2:
				rfs, err := readFields(sf.data)
				if err != nil {
					return nil, err
				}
				var smp sample
				for _, rf := range rfs {
					if rf.num == 1 {
						smp.raw = rf.data
					} else if rf.num == 2 {
						smp.id = string(rf.data)
					}
				}
				s.samples = append(s.samples, smp)
			default:
				return nil, fmt.Errorf("RawProfileSeries: unexpected field %d", sf.num)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// describe parses a pprof and returns "sha=.. types=.. samples=..".
func describe(raw []byte) (string, error) {
	plain := raw
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return "", err
		}
		plain, err = io.ReadAll(zr)
		if err != nil {
			return "", err
		}
	}
	p, err := profile.ParseData(plain)
	if err != nil {
		return "", err
	}
	if err := p.CheckValid(); err != nil {
		return "", err
	}
	types := make([]string, len(p.SampleType))
	for i, st := range p.SampleType {
		types[i] = st.Type + "/" + st.Unit
	}
	sum := sha256.Sum256(plain)
	return fmt.Sprintf("sha=%x types=%s samples=%d", sum[:8], strings.Join(types, ","),
		len(p.Sample)), nil
}

func (r *recorder) authState(req *http.Request) string {
	if *user != "" {
		u, p, ok := req.BasicAuth()
		if !ok {
			return "none"
		}
		if u != *user || p != *pass {
			return "bad"
		}
		return "ok"
	}
	if *bearer != "" {
		h := req.Header.Get("Authorization")
		if h == "" {
			return "none"
		}
		if h != "Bearer "+*bearer {
			return "bad"
		}
		return "ok"
	}
	return "ok"
}

// statusHang in -script: the request is answered 503, but only after -hang.
const statusHang = 0

func (r *recorder) nextStatus() int {
	st := r.statuses[len(r.statuses)-1]
	if r.n <= len(r.statuses) {
		st = r.statuses[r.n-1]
	}
	return st
}

func (r *recorder) handlePush(n int, status int, body []byte, req *http.Request) error {
	if ct := req.Header.Get("Content-Type"); ct != "application/proto" {
		return fmt.Errorf("Content-Type %q, want application/proto", ct)
	}
	if v := req.Header.Get("Connect-Protocol-Version"); v != "1" {
		return fmt.Errorf("Connect-Protocol-Version %q, want 1", v)
	}
	ss, err := decodePush(body)
	if err != nil {
		return err
	}
	for _, s := range ss {
		for _, smp := range s.samples {
			d, err := describe(smp.raw)
			if err != nil {
				return fmt.Errorf("series %s: pprof: %v", formatLabels(s.labels), err)
			}
			r.printf("profile req=%d status=%d labels=%s id=%s %s", n, status,
				formatLabels(s.labels), smp.id, d)
		}
	}
	return nil
}

func (r *recorder) handleIngest(n int, status int, body []byte, req *http.Request) error {
	q := req.URL.Query()
	for _, k := range []string{"name", "from", "until", "format"} {
		if q.Get(k) == "" {
			return fmt.Errorf("/ingest without %s", k)
		}
	}
	for _, k := range []string{"from", "until"} {
		if _, err := strconv.ParseInt(q.Get(k), 10, 64); err != nil {
			return fmt.Errorf("/ingest %s=%q is not Unix seconds", k, q.Get(k))
		}
	}
	d, err := describe(body)
	if err != nil {
		return fmt.Errorf("pprof: %v", err)
	}
	r.printf("ingest req=%d status=%d name=%s from=%s until=%s format=%s spyName=%s sampleRate=%s %s",
		n, status, q.Get("name"), q.Get("from"), q.Get("until"), q.Get("format"),
		q.Get("spyName"), q.Get("sampleRate"), d)
	return nil
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	n := r.n
	status := r.nextStatus()
	hang := status == statusHang
	if hang {
		status = http.StatusServiceUnavailable
	}
	auth := r.authState(req)
	if auth != "ok" {
		status = http.StatusUnauthorized
	}
	gotTenant := req.Header.Get("X-Scope-OrgID")
	if *tenant != "" && gotTenant != *tenant {
		status = http.StatusBadRequest
		r.printf("error req=%d msg=tenant %q, want %q", n, gotTenant, *tenant)
	}
	if name, want, ok := strings.Cut(*header, "="); ok && req.Header.Get(name) != want {
		status = http.StatusBadRequest
		r.printf("error req=%d msg=header %s %q, want %q", n, name, req.Header.Get(name), want)
	}
	r.printf("req n=%d ms=%d path=%s status=%d tenant=%s auth=%s len=%d proto=%s x-multi=%s", n,
		time.Now().UnixNano()/int64(time.Millisecond), req.URL.Path, status, gotTenant, auth,
		len(body), req.Proto, strings.Join(req.Header.Values("X-Multi"), ","))
	if err == nil {
		switch req.URL.Path {
		case "/push.v1.PusherService/Push":
			err = r.handlePush(n, status, body, req)
		case "/ingest":
			err = r.handleIngest(n, status, body, req)
		default:
			err = fmt.Errorf("unexpected path %s", req.URL.Path)
		}
	}
	if err != nil {
		r.printf("error req=%d msg=%v", n, err)
		status = http.StatusBadRequest
	}
	r.mu.Unlock()
	if hang { // outside the lock: later requests are answered meanwhile
		time.Sleep(*hangFor)
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) &&
		*retryAfter != "" {
		w.Header().Set("Retry-After", *retryAfter)
	}
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "application/proto")
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":"invalid_argument","message":%q}`, *errBody)
}

// --- TLS: a CA, a server certificate for 127.0.0.1, a client certificate ---

func writePEM(path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		log.Fatal(err)
	}
}

// issue makes a key and a certificate from tmpl signed by parent (itself
// when parent is nil).
func issue(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return cert, key, der
}

func tlsConfig(dir string) *tls.Config {
	now := time.Now()
	ca, caKey, caDER := issue(&x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "recorder test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	_, srvKey, srvDER := issue(&x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	_, cliKey, cliDER := issue(&x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "profpipe"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)
	writePEM(filepath.Join(dir, "client.pem"), "CERTIFICATE", cliDER)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		log.Fatal(err)
	}
	writePEM(filepath.Join(dir, "client-key.pem"), "EC PRIVATE KEY", cliKeyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

func main() {
	flag.Parse()
	if *makePush != "" {
		writePush(*makePush, *nLabels)
		return
	}
	r := &recorder{}
	for _, s := range strings.Split(*script, ",") {
		st, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("bad -script: %v", err)
		}
		r.statuses = append(r.statuses, st)
	}
	out, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	r.out = out
	if *tlsDir == "" {
		log.Fatal(http.ListenAndServe(*addr, r))
	}
	srv := &http.Server{Addr: *addr, Handler: r, TLSConfig: tlsConfig(*tlsDir),
		ErrorLog: log.New(out, "tlserror ", 0)}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
