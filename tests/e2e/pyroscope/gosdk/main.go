// gosdk uploads real runtime/pprof profiles of this process to a
// Pyroscope /ingest endpoint exactly as the Pyroscope Go SDK
// (github.com/grafana/pyroscope-go) does, for each of its profile types.
// The SDK's module cannot be installed here; its wire behaviour was read in
// pyroscope-go v1.4.2 (upstream/remote/remote.go uploadProfile,
// session.go, sample_types.go, collector.go, internal/semconv/labels.go)
// and v0.1.x/v1.0.4 (prev_profile):
//
//   - POST <server>/ingest?name=&from=&until=&spyName=gospy&sampleRate=
//     &units=&aggregationType= (url.Values.Encode, so keys sorted;
//     from/until in Unix nanoseconds);
//   - name: the app name and tags in Pyroscope's normalized label-set
//     form, app{k=v,...} with keys sorted, always holding
//     __session_id__ (16 hex digits of a little-endian uint64),
//     process.runtime.name/version, otel.scope.name/version;
//   - body: multipart/form-data from mime/multipart.Writer: a form file
//     "profile" (profile.pprof), then "sample_type_config"
//     (sample_type_config.json) for every type but CPU; the v0 SDK also
//     sent "prev_profile" with cumulative sample types.
//
// Profile types (v1.4.2): cpu (sampleRate 100, units samples,
// aggregationType sum, no config); heap with all four alloc/inuse types
// (sampleRate 100, config without display names); goroutines (units
// goroutines, aggregationType average, config goroutine ->
// display-name goroutines); mutex and block (their configs' display names
// mutex_count/mutex_duration and block_count/block_duration).
//
// Usage: gosdk -server URL -app NAME -out DIR [-v0]. Every profile it
// sends is also written to DIR/<type>.pb.gz (and DIR/<type>.prev.pb.gz),
// so the test can compare what profpipe stored with what was sent. Exits
// 1 if an upload is not answered 200.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type sampleType struct {
	Units       string `json:"units,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Sampled     bool   `json:"sampled,omitempty"`
	Cumulative  bool   `json:"cumulative,omitempty"`
}

type upload struct {
	kind, scope        string
	profile, prev      []byte
	sampleRate         int
	units, aggregation string
	config             map[string]*sampleType
	start, end         time.Time
}

var (
	server  = flag.String("server", "", "base URL of the /ingest endpoint")
	app     = flag.String("app", "gosdkapp", "application name")
	outDir  = flag.String("out", "", "where to write every profile sent")
	v0      = flag.Bool("v0", false, "send mutex and block as the v0 SDK did: prev_profile, cumulative")
	session = flag.String("session", "", "16 hex digits; default random, as the SDK")
)

// sessionID as the SDK writes it: hex of the little-endian bytes.
func sessionID() string {
	if *session != "" {
		return *session
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.New(rand.NewSource(time.Now().UnixNano())).Uint64())
	return hex.EncodeToString(b[:])
}

// appName is labelset.Normalized(): app{k=v,...}, keys sorted.
func appName(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(*app + "{")
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(k + "=" + tags[k])
	}
	sb.WriteString("}")
	return sb.String()
}

func send(u upload, name string) error {
	body := &bytes.Buffer{}
	w := multipart.NewWriter(body)
	fw, _ := w.CreateFormFile("profile", "profile.pprof")
	fw.Write(u.profile)
	if u.prev != nil {
		fw, _ = w.CreateFormFile("prev_profile", "profile.pprof")
		fw.Write(u.prev)
	}
	if u.config != nil {
		fw, _ = w.CreateFormFile("sample_type_config", "sample_type_config.json")
		b, _ := json.Marshal(u.config)
		fw.Write(b)
	}
	w.Close()
	q := url.Values{}
	q.Set("name", name)
	q.Set("from", strconv.FormatInt(u.start.UnixNano(), 10))
	q.Set("until", strconv.FormatInt(u.end.UnixNano(), 10))
	q.Set("spyName", "gospy")
	q.Set("sampleRate", strconv.Itoa(u.sampleRate))
	q.Set("units", u.units)
	q.Set("aggregationType", u.aggregation)
	req, err := http.NewRequest(http.MethodPost, *server+"/ingest?"+q.Encode(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d %s", u.kind, resp.StatusCode, msg)
	}
	return nil
}

func lookup(name string) []byte {
	var b bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&b, 0); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var sink []byte

// burnCPU spins in a named function so that it is on top of the profile.
func burnCPU(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		for i := 0; i < 1000; i++ {
			n ^= i * n
		}
	}
	return n
}

// allocate keeps and drops memory so that alloc and inuse both count.
func allocate() {
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1024+i)
		if i%10 == 0 {
			sink = append(sink, b[:1]...)
		}
	}
}

// contend makes lock contention (mutex profile) and blocking (block profile).
func contend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	ch := make(chan int)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				mu.Lock()
				time.Sleep(200 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	go func() {
		for i := 0; i < 20; i++ {
			time.Sleep(200 * time.Microsecond)
			ch <- i
		}
		close(ch)
	}()
	for range ch {
	}
	wg.Wait()
}

func cpuProfile() []byte {
	var b bytes.Buffer
	if err := pprof.StartCPUProfile(&b); err != nil {
		panic(err)
	}
	burnCPU(1500 * time.Millisecond)
	pprof.StopCPUProfile()
	return b.Bytes()
}

var (
	heapConfig = map[string]*sampleType{
		"alloc_objects": {Units: "objects"},
		"alloc_space":   {Units: "bytes"},
		"inuse_space":   {Units: "bytes", Aggregation: "average"},
		"inuse_objects": {Units: "objects", Aggregation: "average"},
	}
	goroutineConfig = map[string]*sampleType{
		"goroutine": {DisplayName: "goroutines", Units: "goroutines", Aggregation: "average"},
	}
)

func lockConfig(kind string, cumulative bool) map[string]*sampleType {
	return map[string]*sampleType{
		"contentions": {DisplayName: kind + "_count", Units: "lock_samples", Cumulative: cumulative},
		"delay":       {DisplayName: kind + "_duration", Units: "lock_nanoseconds", Cumulative: cumulative},
	}
}

func main() {
	flag.Parse()
	runtime.MemProfileRate = 1
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	start := time.Now()
	var uploads []upload
	var tags map[string]string
	if *v0 {
		// v0: no session id or scope labels; cumulative lock profiles
		// with their previous state
		tags = map[string]string{"env": "e2e"}
		contend()
		prevMutex, prevBlock := lookup("mutex"), lookup("block")
		contend()
		end := time.Now()
		uploads = []upload{
			{kind: "mutex", profile: lookup("mutex"), prev: prevMutex, config: lockConfig("mutex", true), start: start, end: end},
			{kind: "block", profile: lookup("block"), prev: prevBlock, config: lockConfig("block", true), start: start, end: end},
		}
	} else {
		tags = map[string]string{
			"env": "e2e", "__session_id__": sessionID(),
			"process.runtime.name": "go", "process.runtime.version": runtime.Version(),
			"otel.scope.version": "v1.4.2",
		}
		allocate()
		contend()
		cpu := cpuProfile()
		runtime.GC()
		end := time.Now()
		uploads = []upload{
			{kind: "cpu", scope: "go", profile: cpu, sampleRate: 100, units: "samples", aggregation: "sum"},
			{kind: "heap", scope: "godeltaprof", profile: lookup("heap"), sampleRate: 100, config: heapConfig},
			{kind: "goroutines", scope: "go", profile: lookup("goroutine"), units: "goroutines", aggregation: "average", config: goroutineConfig},
			{kind: "mutex", scope: "godeltaprof", profile: lookup("mutex"), config: lockConfig("mutex", false)},
			{kind: "block", scope: "godeltaprof", profile: lookup("block"), config: lockConfig("block", false)},
		}
		for i := range uploads {
			uploads[i].start, uploads[i].end = start, end
		}
	}
	for _, u := range uploads {
		t := map[string]string{}
		for k, v := range tags {
			t[k] = v
		}
		if u.scope != "" {
			t["otel.scope.name"] = "com.grafana.pyroscope/" + u.scope
		}
		os.WriteFile(filepath.Join(*outDir, u.kind+".pb.gz"), u.profile, 0o644)
		if u.prev != nil {
			os.WriteFile(filepath.Join(*outDir, u.kind+".prev.pb.gz"), u.prev, 0o644)
		}
		if err := send(u, appName(t)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
