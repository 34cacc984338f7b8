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
#   (tests/unit/jfr_writer.h) and, when java is installed, a short JDK
#   Flight Recorder recording of a small program.
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

# 4. JFR recordings
jdk=()
if command -v java >/dev/null 2>&1; then
  mkdir -p "$work/java"
  cat >"$work/java/Spin.java" <<'JAVA'
public class Spin {
    static long work(long n) { long s = 0; for (long i = 0; i < n; i++) s += i % 7; return s; }
    public static void main(String[] a) {
        long end = System.nanoTime() + 1_500_000_000L, s = 0;
        while (System.nanoTime() < end) { s += work(100_000); StringBuilder b = new StringBuilder(); b.append(s); }
        System.out.println(s);
    }
}
JAVA
  if (cd "$work/java" && timeout 120 java -XX:StartFlightRecording=filename=jdk.jfr,settings=profile \
        Spin.java >/dev/null 2>&1) && [ -s "$work/java/jdk.jfr" ]; then
    jdk=("$work/java/jdk.jfr")
  fi
fi
"$seeds_bin" jfr "$out" "${jdk[@]}"

rm -rf "$work"
for d in "$out"/*/; do
  echo "seeds $(basename "$d"): $(find "$d" -type f | wc -l)"
done
