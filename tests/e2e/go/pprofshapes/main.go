// pprofshapes writes pprof profiles shaped like ones real producers send
// and our own encoders never make, built field by field from the pprof
// definition with github.com/google/pprof/profile (Debian's
// golang-github-google-pprof-dev), gzip'd as on disk:
//
//	pprofshapes bytes OUT [VARIANT]
//	    strings holding NUL bytes and invalid UTF-8 in every kind of
//	    string field (function names and files, mapping file and build id,
//	    sample label keys, values and units, comments); two function names
//	    differ only after a NUL byte (pkg.abc\x00def, pkg.abc\x00xyz).
//	    VARIANT 1 numbers everything in another order with other values,
//	    for merges.
//	pprofshapes nodedups OUT
//	    a Node.js-style wall profile (sample/count, wall/microseconds) in
//	    which, as Node's pprof writer does, one frame (function, file,
//	    line) appears as several locations, one per call path: the frame
//	    handle() is about 21% of the total but split over 5 locations of
//	    about 4% each.
//
// Build with GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"fmt"
	"os"

	"github.com/google/pprof/profile"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pprofshapes:", err)
	os.Exit(1)
}

func write(p *profile.Profile, path string) {
	if err := p.CheckValid(); err != nil {
		fail(err)
	}
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	if err := p.Write(f); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

// fn and loc append a function and a one-line location with fresh ids.
func fn(p *profile.Profile, name, file string) *profile.Function {
	f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name,
		Filename: file}
	p.Function = append(p.Function, f)
	return f
}

func loc(p *profile.Profile, m *profile.Mapping, f *profile.Function, line int64,
	address uint64) *profile.Location {
	l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Address: address,
		Line: []profile.Line{{Function: f, Line: line}}}
	p.Location = append(p.Location, l)
	return l
}

func byteStrings(variant int) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10000000,
		TimeNanos:     1700000000000000000 + int64(variant)*1000000000,
		DurationNanos: 1000000000,
		Comments:      []string{"c\x00omment", "half \xe2\x82 euro"},
	}
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x500000,
		File: "/usr/lib/lib\x00name.so", BuildID: "\xff\xfe\x00id", HasFunctions: true}
	p.Mapping = []*profile.Mapping{m}
	names := [][2]string{
		{"pkg.abc\x00def", "src/a.go"},
		{"pkg.abc\x00xyz", "src/a.go"},
		{"main.\xff\xfe", "src/\xc3\x28.go"},
		{"main.main", "main\x00.go"},
	}
	order := []int{0, 1, 2, 3}
	if variant == 1 {
		order = []int{3, 2, 1, 0}
	}
	locs := make([]*profile.Location, len(names))
	for _, i := range order {
		locs[i] = loc(p, m, fn(p, names[i][0], names[i][1]), int64(10*(i+1)),
			m.Start+0x10*uint64(i+1))
	}
	scale := int64(1 + variant)
	add := func(v int64, stack []*profile.Location, label map[string][]string) {
		p.Sample = append(p.Sample, &profile.Sample{Location: stack,
			Value: []int64{v * scale, v * scale * 10000000}, Label: label})
	}
	root := locs[3]
	add(1, []*profile.Location{locs[0], root}, map[string][]string{"k": {"v\x00a"}})
	add(2, []*profile.Location{locs[1], root}, map[string][]string{"k": {"v\x00b"}})
	add(4, []*profile.Location{locs[2], root}, map[string][]string{"u\xff": {"\xc0\xaf"}})
	p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{root},
		Value:    []int64{8 * scale, 8 * scale * 10000000},
		NumLabel: map[string][]int64{"size": {1024}},
		NumUnit:  map[string][]string{"size": {"b\x00ytes"}}})
	return p
}

// nodeDups: main -> handle (5 call paths, one location each) -> query or
// render; main -> gc. handle's share: 5 * 42 / 1000 = 21%.
func nodeDups() *profile.Profile {
	const periodMicros = 10000
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "sample", Unit: "count"},
			{Type: "wall", Unit: "microseconds"}},
		PeriodType:    &profile.ValueType{Type: "wall", Unit: "microseconds"},
		Period:        periodMicros,
		TimeNanos:     1700000000000000000,
		DurationNanos: 10000000000,
	}
	m := &profile.Mapping{ID: 1, Start: 0x1000, Limit: 0x2000, File: "node", HasFunctions: true}
	p.Mapping = []*profile.Mapping{m}
	main := fn(p, "main", "/app/index.js")
	handle := fn(p, "handle", "/app/handler.js")
	query := fn(p, "query", "/app/db.js")
	render := fn(p, "render", "/app/view.js")
	idle := fn(p, "(idle)", "")
	gc := fn(p, "(garbage collector)", "")
	next := func(f *profile.Function, line int64) *profile.Location {
		return loc(p, m, f, line, m.Start+0x10*uint64(len(p.Location)+1))
	}
	add := func(count int64, stack ...*profile.Location) {
		p.Sample = append(p.Sample, &profile.Sample{Location: stack,
			Value: []int64{count, count * periodMicros}})
	}
	mainLoc := next(main, 1)
	for i := 0; i < 5; i++ {
		// Node writes a new location for each node of its call tree
		h := next(handle, 12)
		q := next(query, 30)
		r := next(render, 40)
		add(20, q, h, mainLoc)
		add(12, r, h, mainLoc)
		add(10, h, mainLoc)
	}
	add(600, next(idle, 0))
	add(150, next(gc, 0))
	add(40, mainLoc)
	return p
}

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: pprofshapes bytes OUT [VARIANT] | nodedups OUT"))
	}
	switch os.Args[1] {
	case "bytes":
		variant := 0
		if len(os.Args) > 3 && os.Args[3] == "1" {
			variant = 1
		}
		write(byteStrings(variant), os.Args[2])
	case "nodedups":
		write(nodeDups(), os.Args[2])
	default:
		fail(fmt.Errorf("unknown shape %q", os.Args[1]))
	}
}
