#!/usr/bin/env bash
# Builds the seed corpora of every fuzz target into OUT/<target>/ from real
# inputs made or found at test time (nothing checked in):
# - profiles the Go runtime writes (tests/e2e/go/profgen, runtime/pprof)
#   and the sample profiles under config/samples;
# - the repository's configs (config/**/*.yaml) and every ```yaml block of
#   its READMEs;
# - ELF files: a small C program compiled now (with and without its
#   symbols, and its debug file); the .gopclntab of the profgen Go binary
#   (stripped) seeds the perf_gopclntab target;
# - JFR recordings: the async-profiler shaped one the unit tests write
#   (tests/unit/jfr_writer.h) and, when a JDK is installed, a short JDK
#   Flight Recorder recording of a small program (about 120 KB).
# Usage: seeds.sh FUZZ_SEEDS_BINARY OUT
set -euo pipefail
seeds_bin=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$out.work
rm -rf "$out" "$work"
mkdir -p "$out" "$work/prof" "$work/yaml"

# 1. real profiles
(cd "$src/tests/e2e/go/profgen" && GO111MODULE=off go build -o "$work/profgen" .)
timeout 60 "$work/profgen" "$work/prof" >/dev/null
cp "$src"/config/samples/*.pb.gz "$work/prof/"
"$seeds_bin" profiles "$out" "$work"/prof/*.pb.gz

# 2. configs and README examples
n=0
while IFS= read -r md; do
  awk -v dir="$work/yaml" -v base="$(echo "${md#"$src"/}" | tr / _)" '
    /^```yaml/ { inside = 1; n++; file = dir "/" base "." n ".yaml"; next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }' "$md"
done < <(find "$src" -name '*.md' -not -path '*/build*' -not -path '*/node_modules/*' \
           -not -path '*/.git/*' | sort)
while IFS= read -r y; do
  cp "$y" "$work/yaml/$(echo "${y#"$src"/}" | tr / _)"
done < <(find "$src/config" -name '*.yaml' | sort)
"$seeds_bin" configs "$out" "$work"/yaml/*.yaml

# 3. ELF files and a real .gopclntab
printf '#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint main(void) { printf("%%d\\n", twice(21)); return 0; }\n' \
  >"$work/tiny.c"
cc -O1 -g0 -o "$work/tiny" "$work/tiny.c"
mkdir -p "$out/perf_elf"
cp "$work/tiny" "$out/perf_elf/tiny"
strip -o "$out/perf_elf/tiny.stripped" "$work/tiny"
objcopy --only-keep-debug "$work/tiny" "$out/perf_elf/tiny.debug"
(cd "$src/tests/e2e/go/profgen" && GO111MODULE=off go build -ldflags=-s -o "$work/profgen.s" .)
objcopy -O binary --only-section=.gopclntab "$work/profgen.s" "$work/gopclntab"
"$seeds_bin" gopclntab "$out" "$work/gopclntab"

# 4. JFR recordings. The JDK one is kept small (about 120 KB, most of it
# the JDK's metadata event) so that it fits the target's -max_len: a
# compiled class (no source launcher, whose compiler would fill the
# constant pools) recorded with only the events the reader converts
# (execution samples, allocations, monitor enter, park), the settings and
# a few events it skips (CPU load, JVM information, GC).
jdk=()
if command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
  mkdir -p "$work/java"
  cat >"$work/java/Spin.java" <<'JAVA'
import java.util.concurrent.locks.LockSupport;
public class Spin {
    static final Object lock = new Object();
    static long work(long n) { long s = 0; for (long i = 0; i < n; i++) s += i % 7; return s; }
    // deeper than the recorder's 64 frames: truncated stack traces
    static long deep(int d, long n) { return d == 0 ? work(n) : deep(d - 1, n) + 1; }
    public static void main(String[] a) throws Exception {
        long end = System.nanoTime() + 800_000_000L;
        Runnable r = () -> {
            long s = 0, n = 0;
            while (System.nanoTime() < end) {
                synchronized (lock) { s += n % 2 == 0 ? work(400_000) : deep(80, 400_000); }
                StringBuilder b = new StringBuilder(); b.append(s); if (n % 20 == 0) System.gc();
                if (++n % 50 == 0) LockSupport.parkNanos(2_000_000);
            }
            System.out.println(s);
        };
        Thread t = new Thread(r); t.start(); r.run(); t.join();
    }
}
JAVA
  cat >"$work/java/seed.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="profpipe fuzz seed">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">10 ms</setting></event>
  <event name="jdk.ObjectAllocationInNewTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationOutsideTLAB"><setting name="enabled">true</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ObjectAllocationSample"><setting name="enabled">true</setting><setting name="throttle">100/s</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.JavaMonitorEnter"><setting name="enabled">true</setting><setting name="threshold">0 ms</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ThreadPark"><setting name="enabled">true</setting><setting name="threshold">1 ms</setting><setting name="stackTrace">true</setting></event>
  <event name="jdk.ActiveSetting"><setting name="enabled">true</setting></event>
  <event name="jdk.CPULoad"><setting name="enabled">true</setting><setting name="period">100 ms</setting></event>
  <event name="jdk.JVMInformation"><setting name="enabled">true</setting><setting name="period">beginChunk</setting></event>
  <event name="jdk.GarbageCollection"><setting name="enabled">true</setting><setting name="threshold">0 ms</setting></event>
</configuration>
JFC
  if (cd "$work/java" && timeout 120 javac Spin.java &&
      timeout 120 java -XX:StartFlightRecording=filename=jdk.jfr,settings="$work/java/seed.jfc" \
        Spin >/dev/null 2>&1) && [ -s "$work/java/jdk.jfr" ]; then
    jdk=("$work/java/jdk.jfr")
  fi
fi
"$seeds_bin" jfr "$out" "${jdk[@]}"

rm -rf "$work"
for d in "$out"/*/; do
  echo "seeds $(basename "$d"): $(find "$d" -type f | wc -l)"
done
