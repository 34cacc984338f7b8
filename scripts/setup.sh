#!/usr/bin/env bash
# Installs what profpipe needs on Debian 12 (only what is missing) and
# builds it. `setup.sh` installs BUILD_PKGS and builds the daemon and the
# shipped plugins in build/ (tests off in a new build/); `setup.sh test`
# also installs TEST_PKGS and builds the tests and benchmarks;
# `setup.sh test asan` builds build-asan/ with sanitizers and build-fuzz/
# (clang's libFuzzer harnesses, tests/fuzz) too.
# `setup.sh --packages [test]` prints the package list and installs nothing
# (tests/e2e/setup checks it against what the sources need).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS="cmake make gcc pkg-config libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  zlib1g-dev libdeflate-dev libisal-dev libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev librdkafka-dev libpcre2-dev libelf-dev"
TEST_PKGS="libcmocka-dev golang-go golang-github-google-pprof-dev kcat linux-perf
  procps iproute2 curl ca-certificates jq prometheus golang-gopkg-yaml.v3-dev chromium openjdk-17-jdk-headless openssl
  stress-ng lintian systemd adduser time strace clang libclang-rt-14-dev binutils
  libjansson-dev clang-format tinyproxy"

if [ "${1:-}" = --packages ]; then
  # (nodejs npm: what a machine without node gets, see below)
  if [ "${2:-}" = test ]; then echo $BUILD_PKGS $TEST_PKGS nodejs npm; else echo $BUILD_PKGS; fi
  exit 0
fi

want="$BUILD_PKGS"
[ "${1:-}" = test ] && want="$want $TEST_PKGS"
# Node.js may come from elsewhere than Debian (its own npm inside): only
# when there is no node or npm command are Debian's packages installed.
if [ "${1:-}" = test ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  want="$want nodejs npm"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
if [ "${1:-}" = test ]; then
  build build -DPROFPIPE_TESTS=ON
else
  # the run path: a new build/ gets no tests; one that has them keeps them
  # (only the daemon and the plugins are rebuilt)
  [ -f build/CMakeCache.txt ] || tests_off=-DPROFPIPE_TESTS=OFF
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${tests_off:-} >/dev/null
  cmake --build build -j "$(nproc)" --target daemon
fi
if [ "${2:-}" = asan ]; then
  build build-asan -DPROFPIPE_SANITIZE=ON -DPROFPIPE_TESTS=ON
  CC=clang build build-fuzz -DPROFPIPE_FUZZ=ON
fi
