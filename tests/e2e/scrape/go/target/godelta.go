// godelta.go: the godeltaprof endpoints (/debug/pprof/delta_heap,
// delta_block, delta_mutex), as a service using grafana/pyroscope-go's
// godeltaprof would serve them: the target computes the per-interval
// values itself, so profpipe must pass them on as they are.
//
// Each profile is built by hand (a tiny protobuf encoder: the test server
// uses the standard library only) with one sample in one function per
// endpoint (main.deltaHeapSite, main.deltaBlockSite, main.deltaMutexSite)
// whose values encode the request's sequence number n on that path:
// value[0] = n and value[i] = n*deltaStep + i*deltaSaw[n%2]. The second
// value goes down every other request, so a receiver that took these as
// cumulative counters would reset its baseline or drop the first profile,
// and the test, which checks every emitted profile against this formula
// and that n = 1 was emitted, would see it.
package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"sync"
	"time"
)

const deltaStep = 1000

var deltaSaw = [2]int64{700, 300}

type deltaKind struct {
	path  string
	fn    string
	types [][2]string // sample types: type, unit
}

var deltaKinds = []deltaKind{
	{"/debug/pprof/delta_heap", "main.deltaHeapSite", [][2]string{
		{"alloc_objects", "count"}, {"alloc_space", "bytes"},
		{"inuse_objects", "count"}, {"inuse_space", "bytes"}}},
	{"/debug/pprof/delta_block", "main.deltaBlockSite", [][2]string{
		{"contentions", "count"}, {"delay", "nanoseconds"}}},
	{"/debug/pprof/delta_mutex", "main.deltaMutexSite", [][2]string{
		{"contentions", "count"}, {"delay", "nanoseconds"}}},
}

var (
	deltaMu  sync.Mutex
	deltaSeq = map[string]int64{}
)

// pb appends protobuf fields to a buffer (wire types 0 and 2 only).
type pb struct{ bytes.Buffer }

func (b *pb) varint(v uint64) {
	for v >= 0x80 {
		b.WriteByte(byte(v) | 0x80)
		v >>= 7
	}
	b.WriteByte(byte(v))
}

func (b *pb) uint(field int, v uint64) { b.varint(uint64(field) << 3); b.varint(v) }

func (b *pb) bytes(field int, v []byte) {
	b.varint(uint64(field)<<3 | 2)
	b.varint(uint64(len(v)))
	b.Write(v)
}

func (b *pb) packed(field int, vs []int64) {
	var in pb
	for _, v := range vs {
		in.varint(uint64(v))
	}
	b.bytes(field, in.Bytes())
}

// deltaProfile encodes kind's profile for request n, gzipped.
func deltaProfile(k deltaKind, n int64) []byte {
	strs := []string{""}
	str := func(s string) uint64 { strs = append(strs, s); return uint64(len(strs) - 1) }
	var p pb
	values := make([]int64, len(k.types))
	for i, t := range k.types {
		var vt pb
		vt.uint(1, str(t[0]))
		vt.uint(2, str(t[1]))
		p.bytes(1, vt.Bytes())
		values[i] = n*deltaStep + int64(i)*deltaSaw[n%2]
	}
	values[0] = n
	var s pb
	s.packed(1, []int64{1})
	s.packed(2, values)
	p.bytes(2, s.Bytes())
	var line, loc, fn pb
	line.uint(1, 1)
	line.uint(2, 42)
	loc.uint(1, 1)
	loc.bytes(4, line.Bytes())
	p.bytes(4, loc.Bytes())
	fn.uint(1, 1)
	fn.uint(2, str(k.fn))
	fn.uint(3, str(k.fn))
	fn.uint(4, str("godelta.go"))
	p.bytes(5, fn.Bytes())
	p.uint(9, uint64(time.Now().UnixNano()))
	for _, s := range strs {
		p.bytes(6, []byte(s))
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(p.Bytes())
	zw.Close()
	return out.Bytes()
}

func deltaHandler(k deltaKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		deltaMu.Lock()
		deltaSeq[k.path]++
		n := deltaSeq[k.path]
		deltaMu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(deltaProfile(k, n))
	}
}
