#!/usr/bin/env bash
# The listener options refuse bad values with an error naming the file,
# line, component and key (`profpipe validate`, nothing started): a bad
# CIDR, an empty allowlist, TLS without a key or with an unknown
# min_version, a pinned tenant without its credential, limits out of
# range, a memory budget smaller than one request; and a certificate file
# that cannot be read is a startup error naming it.
source "$SOURCE_DIR/tests/e2e/lib.sh"

check() { # WANTED_TEXT RECEIVER_YAML [TELEMETRY_YAML]
  cat >"$T/c.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:1
$2
exporters:
  file: {directory: $T/out}
service:
  telemetry:
    address: 127.0.0.1:2
${3:-}
  pipelines: {p: {receivers: [pyroscope], exporters: [file]}}
YAML
  local out rc=0
  out=$("$PROFPIPE" validate -c "$T/c.yaml" 2>&1) || rc=$?
  [ "$rc" != 0 ] || fail "accepted: $2 $3"
  grep -qF -- "$1" <<<"$out" || fail "want \"$1\", got: $out"
  echo "  $out" | sed -n 1p
}
check 'c.yaml:4:5: receivers.pyroscope: allowed_networks: item 1 "10.0.0.0/33" is not an IPv4 or IPv6 CIDR' \
  '    allowed_networks: [127.0.0.1, 10.0.0.0/33]'
check 'allowed_networks: item 0 "fe80::zz/64"' '    allowed_networks: ["fe80::zz/64"]'
check 'allowed_networks: empty' '    allowed_networks: []'
check 'tls.key_file: required' '    tls: {cert_file: /x.pem}'
check 'tls.min_version: must be 1.2 or 1.3, not "1.1"' '    tls: {cert_file: /x.pem, key_file: /x.key, min_version: "1.1"}'
check 'bearer_token_tenant: needs bearer_token' '    bearer_token_tenant: a'
check 'max_connections: must be 1 to 1000000' '    max_connections: 0'
check 'request_timeout: must be at least 1s' '    request_timeout: 100ms'
check 'max_header_size: must be at least 4KiB, not 1KiB' '    max_header_size: 1KiB'
check 'memory_budget: must be at least max_decompressed_size' '    memory_budget: 1MiB'
check 'service: telemetry.allowed_networks: item 0 "x"' '' '    allowed_networks: [x]'
check 'telemetry.basic_auth.password: password or password_file is required' '' '    basic_auth: {username: u}'
pass "bad listener options are refused naming file, line and key"

# an unreadable certificate: a startup error that names the file
port=$(free_port)
cat >"$T/tls.yaml" <<YAML
receivers:
  pyroscope:
    endpoint: 127.0.0.1:$port
    tls: {cert_file: $T/missing.pem, key_file: $T/missing.key}
exporters:
  file: {directory: $T/out}
service:
  telemetry: {address: ""}
  pipelines: {p: {receivers: [pyroscope], exporters: [file]}}
YAML
rc=0
timeout 20 "$PROFPIPE" run -c "$T/tls.yaml" >"$T/tls.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "started with a missing certificate"
grep -q "cannot read $T/missing.pem" "$T/tls.log" || fail "the error does not name the file: $(cat "$T/tls.log")"
pass "a missing certificate file stops the start, named (exit $rc)"
