// profstat prints what genprofiles.sh made: per file its size, samples,
// sum of the first value, locations, functions and distinct span_id label
// values, read with Debian's github.com/google/pprof/profile.
// Usage: profstat FILE.pb.gz...
package main

import (
	"fmt"
	"os"

	"github.com/google/pprof/profile"
)

func main() {
	for _, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			panic(err)
		}
		p, err := profile.ParseData(b)
		if err != nil {
			panic(fmt.Sprintf("%s: %v", path, err))
		}
		spans := map[string]bool{}
		var first int64
		for _, s := range p.Sample {
			for _, v := range s.Label["span_id"] {
				spans[v] = true
			}
			if len(s.Value) > 0 {
				first += s.Value[0]
			}
		}
		fmt.Printf("%s: %d bytes gzip'd, %d samples (first value %d), %d locations, %d functions, %d span_id values\n",
			path, len(b), len(p.Sample), first, len(p.Location), len(p.Function), len(spans))
	}
}
