#!/usr/bin/env bash
# Options borrowed from OpenTelemetry's exporterhelper that mean something
# else here are refused by `profpipe validate`, not silently read another
# way: sending_queue.queue_size as a bare number (OTel: requests; here:
# bytes) and sending_queue.storage naming an OTel storage extension
# (file_storage, file_storage/name) instead of a directory. The forms that
# mean what they say are accepted.
source "$SOURCE_DIR/tests/e2e/lib.sh"

config() { # file sending_queue-flow-mapping
  cat >"$1" <<CFG
receivers:
  file:
    include: ["$T/in/*.pb.gz"]
exporters:
  file:
    directory: $T/out
    sending_queue: $2
service:
  pipelines:
    profiles:
      receivers: [file]
      exporters: [file]
CFG
}

refused() { # name sending_queue expected-text...
  local name=$1 sq=$2 rc=0; shift 2
  config "$T/$name.yaml" "$sq"
  "$PROFPIPE" validate -c "$T/$name.yaml" >"$T/$name.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$name: validate exit $rc, want 2: $(cat "$T/$name.out")"
  for want in "$name.yaml:7:" "exporters.file" "$@"; do
    grep -qF -- "$want" "$T/$name.out" || fail "$name: error lacks \"$want\": $(cat "$T/$name.out")"
  done
  pass "$name refused: $(head -1 "$T/$name.out")"
}
accepted() { # name sending_queue
  config "$T/$1.yaml" "$2"
  out=$("$PROFPIPE" validate -c "$T/$1.yaml" 2>&1) || fail "$1: refused: $out"
}

refused otel_queue_size "{queue_size: 1000}" "sending_queue.queue_size: 1000 has no unit" \
  "counts requests" "a size such as 64MiB"
refused otel_storage "{storage: file_storage}" "sending_queue.storage" '"file_storage" is not a path'
refused otel_storage_named "{storage: file_storage/queue}" '"file_storage/queue" is not a path'
accepted bytes "{queue_size: 1000B}"
accepted mib "{queue_size: 64MiB, storage: ./spool}"
accepted absolute "{storage: $T/spool}"
pass "sizes with a unit and storage paths (./ or absolute) accepted"
