// gobench is the Go side of bench/processors/run.sh: the same work as
// proc_bench, written with Debian's github.com/google/pprof/profile, the
// library the Go ecosystem (and go tool pprof) uses. Per profile: the same
// three relabel rules on the series labels (Go's regexp, anchored as
// Prometheus anchors), parse the gzip'd pprof, cut stacks deeper than
// MAX_DEPTH under a [truncated] frame, fold call-tree nodes (paths of
// frames by function, file and line) below MIN_FRACTION of the total into
// [other], merge equal samples (Compact),
// and write it gzip'd. Prints one line for run.sh.
//
// Usage: gobench SECONDS MIN_FRACTION MAX_DEPTH FILE...
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

type rule struct {
	source []string
	re     *regexp.Regexp
	target string
	repl   string
	action string
}

func anchored(s string) *regexp.Regexp { return regexp.MustCompile("^(?s:" + s + ")$") }

var rules = []rule{
	{source: []string{"service_name"}, re: anchored("(.*)-app"), target: "app", repl: "${1}", action: "replace"},
	{source: []string{"env"}, re: anchored("prod|staging"), action: "keep"},
	{re: anchored("tmp_.*"), action: "labeldrop"},
}

func inputLabels() map[string]string {
	return map[string]string{"service_name": "checkout-app", "__name__": "process_cpu",
		"env": "prod", "tmp_request": "r-1234", "instance": "10.0.0.1:6060"}
}

func relabel(ls map[string]string) bool {
	for _, r := range rules {
		val := ""
		for i, s := range r.source {
			if i > 0 {
				val += ";"
			}
			val += ls[s]
		}
		switch r.action {
		case "replace":
			m := r.re.FindStringSubmatchIndex(val)
			if m == nil {
				continue
			}
			res := string(r.re.ExpandString(nil, r.repl, val, m))
			if res == "" {
				delete(ls, r.target)
			} else {
				ls[r.target] = res
			}
		case "keep":
			if !r.re.MatchString(val) {
				return false
			}
		case "labeldrop":
			for k := range ls {
				if r.re.MatchString(k) {
					delete(ls, k)
				}
			}
		}
	}
	return ls["service_name"] != "" && ls["__name__"] != ""
}

// marker adds a function and location named name; returns the location.
func marker(p *profile.Profile, name string) *profile.Location {
	var maxFn, maxLoc uint64
	for _, f := range p.Function {
		if f.ID > maxFn {
			maxFn = f.ID
		}
	}
	for _, l := range p.Location {
		if l.ID > maxLoc {
			maxLoc = l.ID
		}
	}
	fn := &profile.Function{ID: maxFn + 1, Name: name, SystemName: name}
	loc := &profile.Location{ID: maxLoc + 1, Line: []profile.Line{{Function: fn}}}
	p.Function = append(p.Function, fn)
	p.Location = append(p.Location, loc)
	return loc
}

func truncate(p *profile.Profile, maxDepth int) {
	var cut *profile.Location
	for _, s := range p.Sample {
		if len(s.Location) <= maxDepth {
			continue
		}
		if cut == nil {
			cut = marker(p, "[truncated]")
		}
		keep := s.Location[len(s.Location)-(maxDepth-1):]
		s.Location = append([]*profile.Location{cut}, keep...)
	}
}

type nodeKey struct {
	parent int
	frame  int
}

func valueIndex(p *profile.Profile) int {
	for i, st := range p.SampleType {
		if p.DefaultSampleType != "" && st.Type == p.DefaultSampleType {
			return i
		}
	}
	return len(p.SampleType) - 1
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// frames numbers locations by content, as go tool pprof -lines tells
// frames apart: function name, file and line of each line (address and
// mapping when unsymbolized).
func frames(p *profile.Profile) map[*profile.Location]int {
	byKey := map[string]int{}
	out := make(map[*profile.Location]int, len(p.Location))
	var b strings.Builder
	for _, l := range p.Location {
		b.Reset()
		named := 0
		for i, ln := range l.Line {
			if ln.Function == nil {
				continue
			}
			fmt.Fprintf(&b, "%d\x00%s\x00%s\x00%d\x00", i, ln.Function.Name, ln.Function.Filename, ln.Line)
			named++
		}
		if named == 0 {
			var m uint64
			if l.Mapping != nil {
				m = l.Mapping.ID
			}
			fmt.Fprintf(&b, "@%d:%x", m, l.Address)
		}
		id, ok := byKey[b.String()]
		if !ok {
			id = len(byKey)
			byKey[b.String()] = id
		}
		out[l] = id
	}
	return out
}

func fold(p *profile.Profile, minFraction float64) {
	vi := valueIndex(p)
	frameOf := frames(p)
	nodes := map[nodeKey]int{}
	var totals []int64
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		parent := -1
		for d := len(s.Location) - 1; d >= 0; d-- {
			k := nodeKey{parent, frameOf[s.Location[d]]}
			id, ok := nodes[k]
			if !ok {
				id = len(totals)
				nodes[k] = id
				totals = append(totals, 0)
			}
			totals[id] += v
			parent = id
		}
	}
	cutoff := abs(int64(float64(total) * minFraction)) // go tool pprof's nodeCutoff
	var other *profile.Location
	for _, s := range p.Sample {
		parent := -1
		n := len(s.Location)
		for d := 0; d < n; d++ {
			id := nodes[nodeKey{parent, frameOf[s.Location[n-1-d]]}]
			if abs(totals[id]) < cutoff {
				if other == nil {
					other = marker(p, "[other]")
				}
				s.Location = append([]*profile.Location{other}, s.Location[n-d:]...)
				break
			}
			parent = id
		}
	}
}

// cpuTime is the process' CPU time, user + system, the garbage collector's
// threads included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: gobench SECONDS MIN_FRACTION MAX_DEPTH FILE...")
		os.Exit(2)
	}
	seconds, _ := strconv.ParseFloat(os.Args[1], 64)
	minFraction, _ := strconv.ParseFloat(os.Args[2], 64)
	maxDepth, _ := strconv.Atoi(os.Args[3])
	var inputs [][]byte
	for _, path := range os.Args[4:] {
		b, err := os.ReadFile(path)
		if err != nil {
			panic(err)
		}
		inputs = append(inputs, b)
	}
	var profiles, bytesIn, bytesOut int
	cpu0 := cpuTime()
	start := time.Now()
	var buf bytes.Buffer
	for time.Since(start).Seconds() < seconds {
		for _, in := range inputs {
			profiles++
			bytesIn += len(in)
			if !relabel(inputLabels()) {
				continue
			}
			p, err := profile.ParseData(in)
			if err != nil {
				panic(err)
			}
			truncate(p, maxDepth)
			fold(p, minFraction)
			p = p.Compact()
			buf.Reset()
			if err := p.Write(&buf); err != nil {
				panic(err)
			}
			bytesOut += buf.Len()
		}
	}
	el := time.Since(start).Seconds()
	cpu := cpuTime() - cpu0
	fmt.Printf("go profiles=%d seconds=%.3f profiles_per_s=%.1f mb_per_s=%.3f bytes_out=%d cpu_us_per_profile=%.1f\n",
		profiles, el, float64(profiles)/el, float64(bytesIn)/1e6/el, bytesOut,
		float64(cpu.Microseconds())/float64(profiles))
}
