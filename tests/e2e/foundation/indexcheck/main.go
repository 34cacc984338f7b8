// indexcheck reads a file exporter's directory the way a user's tool
// would: every line of index.jsonl through encoding/json (unknown fields
// refused), every profile it names through github.com/google/pprof's own
// parser. It checks each line field by field against its file and prints
// one summary line per profile for the shell test to compare:
//
//	<path> TAB <labels k=v,...> TAB <sample types> TAB <totals per type>
//
// Any mismatch is printed to stderr and the exit status is 1.
//
// Standard library and Debian's golang-github-google-pprof-dev only.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

type entry struct {
	Path        string            `json:"path"`
	Labels      map[string]string `json:"labels"`
	From        int64             `json:"from"`
	Until       int64             `json:"until"`
	SampleTypes []string          `json:"sample_types"`
	Bytes       int64             `json:"bytes"`
	Fingerprint string            `json:"fingerprint"`
}

var (
	safeName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)
	hex16    = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func check(dir string, e *entry) (string, error) {
	full := filepath.Join(dir, e.Path)
	st, err := os.Stat(full)
	if err != nil {
		return "", fmt.Errorf("path: %v", err)
	}
	if st.Size() != e.Bytes {
		return "", fmt.Errorf("bytes %d, file has %d", e.Bytes, st.Size())
	}
	service, name := e.Labels["service_name"], e.Labels["__name__"]
	if service == "" || name == "" {
		return "", fmt.Errorf("labels lack service_name or __name__: %v", e.Labels)
	}
	if safeName.MatchString(service) && safeName.MatchString(name) &&
		filepath.Dir(e.Path) != service+"/"+name {
		return "", fmt.Errorf("path is not under %s/%s/", service, name)
	}
	if !hex16.MatchString(e.Fingerprint) {
		return "", fmt.Errorf("fingerprint %q", e.Fingerprint)
	}
	prefix := fmt.Sprintf("%d-%d-%s", e.From, e.Until, e.Fingerprint)
	if !strings.HasPrefix(filepath.Base(e.Path), prefix) || !strings.HasSuffix(e.Path, ".pb.gz") {
		return "", fmt.Errorf("file name does not carry %s...pb.gz", prefix)
	}
	f, err := os.Open(full)
	if err != nil {
		return "", err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return "", fmt.Errorf("pprof: %v", err)
	}
	if p.TimeNanos != 0 && (e.From != p.TimeNanos || e.Until != p.TimeNanos+p.DurationNanos) {
		return "", fmt.Errorf("from/until %d/%d, profile says %d+%d", e.From, e.Until,
			p.TimeNanos, p.DurationNanos)
	}
	var types []string
	for _, t := range p.SampleType {
		types = append(types, t.Type+"/"+t.Unit)
	}
	if strings.Join(types, ",") != strings.Join(e.SampleTypes, ",") {
		return "", fmt.Errorf("sample_types %v, profile has %v", e.SampleTypes, types)
	}
	totals := make([]string, len(p.SampleType))
	for i := range p.SampleType {
		var sum int64
		for _, s := range p.Sample {
			sum += s.Value[i]
		}
		totals[i] = fmt.Sprint(sum)
	}
	var labels []string
	for k, v := range e.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return fmt.Sprintf("%s\t%s\t%s\t%s", e.Path, strings.Join(labels, ","),
		strings.Join(types, ","), strings.Join(totals, ",")), nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: indexcheck DIRECTORY")
		os.Exit(2)
	}
	dir := os.Args[1]
	f, err := os.Open(filepath.Join(dir, "index.jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	bad, seen := 0, map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e entry
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			fmt.Fprintf(os.Stderr, "index line %d: %v\n", n, err)
			bad++
			continue
		}
		if seen[e.Path] {
			fmt.Fprintf(os.Stderr, "index line %d: %s listed twice\n", n, e.Path)
			bad++
		}
		seen[e.Path] = true
		out, err := check(dir, &e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "index line %d (%s): %v\n", n, e.Path, err)
			bad++
			continue
		}
		fmt.Println(out)
	}
	if bad > 0 {
		os.Exit(1)
	}
}
