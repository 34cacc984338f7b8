// bigprof writes a synthetic CPU profile with many distinct locations, for
// the built-in page's first-paint benchmark and memory-bound test:
//
//	bigprof OUT.pb.gz LOCATIONS SAMPLES SEED [SERVICE]
//
// Each location is its own function (pkg.fNNNN); each sample is a stack of
// 8 to 40 locations drawn from a few hundred "call paths" that share
// prefixes, as real programs do, so the flame graph has deep, wide trees.
// Written with github.com/google/pprof/profile (Debian's
// golang-github-google-pprof-dev), so the bytes are what Go's tools write.
package main

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"

	"github.com/google/pprof/profile"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: bigprof OUT LOCATIONS SAMPLES SEED")
		os.Exit(2)
	}
	nLoc, _ := strconv.Atoi(os.Args[2])
	nSamples, _ := strconv.Atoi(os.Args[3])
	seed, _ := strconv.ParseInt(os.Args[4], 10, 64)
	r := rand.New(rand.NewSource(seed))
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10000000,
		TimeNanos:     1,
		DurationNanos: 10e9,
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x4000000, File: "/usr/bin/big",
		HasFunctions: true}
	p.Mapping = []*profile.Mapping{m}
	for i := 0; i < nLoc; i++ {
		f := &profile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("pkg%d.f%04d", i%37, i),
			SystemName: fmt.Sprintf("pkg%d.f%04d", i%37, i), Filename: fmt.Sprintf("pkg%d/file.go", i%37)}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, &profile.Location{ID: uint64(i + 1), Mapping: m,
			Address: 0x400000 + uint64(i)*16, Line: []profile.Line{{Function: f, Line: int64(i)}}})
	}
	// call paths: each extends a random earlier one by a few frames
	paths := [][]*profile.Location{{p.Location[0]}}
	for len(paths) < nLoc/8 {
		base := paths[r.Intn(len(paths))]
		ext := append([]*profile.Location{}, base...)
		for k := 0; k < 1+r.Intn(4) && len(ext) < 40; k++ {
			ext = append(ext, p.Location[r.Intn(nLoc)])
		}
		paths = append(paths, ext)
	}
	used := map[uint64]bool{}
	for i := 0; i < nSamples; i++ {
		path := paths[r.Intn(len(paths))]
		leaf := p.Location[i%nLoc] // every location appears at least once
		stack := []*profile.Location{leaf}
		for k := len(path) - 1; k >= 0; k-- { // leaf first
			stack = append(stack, path[k])
		}
		for _, l := range stack {
			used[l.ID] = true
		}
		n := int64(1 + r.Intn(20))
		p.Sample = append(p.Sample, &profile.Sample{Location: stack, Value: []int64{n, n * 10000000}})
	}
	if err := p.CheckValid(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f, err := os.Create(os.Args[1])
	if err == nil {
		err = p.Write(f)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d locations, %d used, %d samples\n", nLoc, len(used), nSamples)
}
