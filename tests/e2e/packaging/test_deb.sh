#!/usr/bin/env bash
# The .deb as a user meets it. Built with cpack from the build under test
# into the test's folder, it is checked with dpkg-deb (versioned name,
# conffiles, maintainer scripts, stripped binary, shipped plugin and
# samples, copyright and changelog) and lintian (clean, with the overrides
# packaging/README.md justifies). As root (CI, a developer's machine) and
# when no profpipe package is installed already, it is then installed on
# the machine: the profpipe system user and /var/lib/profpipe owned by it;
# the installed binary runs the installed config as that user, with the
# unit's environment file and ambient capabilities, and writes the sample
# profiles and a dropped file; the perf receiver samples a busy process as
# that user with those capabilities (and fails without them). A config edit
# survives a reinstall and an upgrade to -2 and a `dpkg -r`; purge leaves
# only the user (Debian policy), listed. systemd-analyze verifies the unit
# and scores its hardening under 3. Everything installed is removed at the
# end, and the user too when the test made it.
source "$SOURCE_DIR/tests/e2e/lib.sh"
source "$SOURCE_DIR/tests/e2e/perf/perf_lib.sh"

if [ "$SANITIZE" = 1 ] || [ "$SANITIZE" = ON ] || [ "$SANITIZE" = TRUE ]; then
  echo "skip: the package is built from the plain build, not the sanitizer one"
  exit 0
fi
DEB=profpipe_0.1.0-1_amd64.deb
(cd "$BUILD_DIR" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) ||
  fail "cpack failed: $(tail -5 "$T/cpack.log")"
[ -f "$T/pkg/$DEB" ] || fail "no $DEB: $(ls "$T/pkg")"
[ -f "$T/pkg/profpipe-dbgsym_0.1.0-1_amd64.ddeb" ] || fail "no -dbgsym .ddeb: $(ls "$T/pkg")"

# --- what is in it ---------------------------------------------------
dpkg-deb -I "$T/pkg/$DEB" >"$T/info"
for want in "Package: profpipe" "Version: 0.1.0-1" "Architecture: amd64" "Depends: adduser,"; do
  grep -qF "$want" "$T/info" || fail "dpkg-deb -I lacks \"$want\": $(cat "$T/info")"
done
dpkg-deb --ctrl-tarfile "$T/pkg/$DEB" | tar -x -C "$T" ./conffiles ./postinst ./postrm ./prerm
[ "$(sort "$T/conffiles")" = "$(printf '/etc/default/profpipe\n/etc/profpipe/profpipe.yaml')" ] ||
  fail "conffiles: $(cat "$T/conffiles")"
grep -q 'adduser --system' "$T/postinst" || fail "postinst makes no system user"
dpkg-deb -c "$T/pkg/$DEB" | awk '{print $NF}' | sed 's#^\./#/#' >"$T/files"
for f in /usr/bin/profpipe /etc/profpipe/profpipe.yaml /etc/default/profpipe \
         /usr/lib/systemd/system/profpipe.service /usr/lib/profpipe/plugins/liblabel_edit.so \
         /usr/share/profpipe/samples/example.heap.pb.gz /usr/share/profpipe/samples/example.cpu.pb.gz \
         /usr/share/doc/profpipe/copyright /usr/share/doc/profpipe/changelog.Debian.gz \
         /usr/share/lintian/overrides/profpipe; do
  grep -qx "$f" "$T/files" || fail "$DEB lacks $f"
done
mkdir -p "$T/x" && dpkg-deb -x "$T/pkg/$DEB" "$T/x"
! readelf -S "$T/x/usr/bin/profpipe" | grep -E '\.debug_info|\.symtab' >/dev/null ||
  fail "the packaged binary is not stripped"
grep -q '/usr/share/profpipe/samples/\*\.pb\.gz' "$T/x/etc/profpipe/profpipe.yaml" ||
  fail "installed config does not read the installed samples"
! grep -qE '"\./|: \./' "$T/x/etc/profpipe/profpipe.yaml" ||
  fail "installed config has paths relative to the working directory: $(grep -nE '"\./|: \./' "$T/x/etc/profpipe/profpipe.yaml")"
pass "dpkg-deb: $DEB, $(wc -l <"$T/files") entries, conffiles, stripped binary, plugin, samples, copyright, changelog"

lintian --tag-display-limit 0 "$T/pkg/$DEB" >"$T/lintian" 2>&1 || true
! grep -E '^[EWI]: ' "$T/lintian" || fail "lintian tags: $(grep -E '^[EWI]: ' "$T/lintian")"
pass "lintian: no error, warning or info tag left unjustified"

score=$(systemd-analyze security --offline=true "$T/x/usr/lib/systemd/system/profpipe.service" 2>&1 |
          sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "systemd-analyze security printed no score"
awk -v s="$score" 'BEGIN { exit !(s < 3) }' || fail "unit exposure score $score, not under 3"
pass "systemd-analyze security --offline: $score"

# --- installed on this machine -----------------------------------------
if [ "$(id -u)" != 0 ]; then echo "skip: installing needs root"; exit 0; fi
if dpkg-query -W -f='${Status}' profpipe 2>/dev/null | grep installed >/dev/null; then
  echo "skip: a profpipe package is installed on this machine already; not touching it"
  exit 0
fi
made_user=0
getent passwd profpipe >/dev/null || made_user=1
uninstall() {
  dpkg -P profpipe >/dev/null 2>&1 || true
  if [ "$made_user" = 1 ] && getent passwd profpipe >/dev/null; then
    deluser --system profpipe >/dev/null 2>&1 || true
    ! getent group profpipe >/dev/null || delgroup --system profpipe >/dev/null 2>&1 || true
  fi
}
trap 'cleanup; uninstall' EXIT # processes first: a user still running cannot go
export DEBIAN_FRONTEND=noninteractive

dpkg -i "$T/pkg/$DEB" </dev/null >"$T/install.log" 2>&1 || fail "dpkg -i: $(cat "$T/install.log")"
getent passwd profpipe | grep ':/var/lib/profpipe:' >/dev/null || fail "no profpipe user: $(getent passwd profpipe)"
[ "$(stat -c %U:%G /var/lib/profpipe)" = profpipe:profpipe ] ||
  fail "/var/lib/profpipe owned by $(stat -c %U:%G /var/lib/profpipe)"
pass "installed: user $(getent passwd profpipe | cut -d: -f1,3,6), /var/lib/profpipe owned by it"

systemd-analyze verify /usr/lib/systemd/system/profpipe.service >"$T/verify.log" 2>&1 ||
  fail "systemd-analyze verify: $(cat "$T/verify.log")"
pass "systemd-analyze verify: clean"

# as the unit runs it: user profpipe, the environment file, ambient caps
CAPS=+perfmon,+sys_ptrace,+dac_read_search
as_service() { # command...: what the unit's User=, AmbientCapabilities= give
  # (run it with &: the background job execs into the command, so $! is it)
  cd /var/lib/profpipe && set -a && . /etc/default/profpipe && set +a &&
    exec setpriv --reuid=profpipe --regid=profpipe --init-groups \
      --inh-caps="$CAPS" --ambient-caps="$CAPS" "$@"
}
pyro=$(free_port) tel=$(free_port)
export PROFPIPE_PYROSCOPE_ADDRESS=127.0.0.1:$pyro PROFPIPE_TELEMETRY_ADDRESS=127.0.0.1:$tel
as_service /usr/bin/profpipe run -c /etc/profpipe/profpipe.yaml >"$T/run.log" 2>&1 &
PIDS+=($!)
run_pid=$!
wait_for 30 curl -sf "http://127.0.0.1:$tel/healthz" || fail "installed profpipe not healthy: $(tail -5 "$T/run.log")"
idx=/var/lib/profpipe/profiles/index.jsonl
samples_written() { [ "$(grep -c '"service_name":"example"' "$idx" 2>/dev/null)" = 3 ]; }
wait_for 30 samples_written || fail "the installed samples were not written: $(tail -5 "$T/run.log")"
install -o profpipe -g profpipe -m 644 /usr/share/profpipe/samples/example.heap.pb.gz \
  /var/lib/profpipe/dropin/pkgtest.heap.pb.gz.part 2>/dev/null ||
  { mkdir -p /var/lib/profpipe/dropin && chown profpipe:profpipe /var/lib/profpipe/dropin &&
    install -o profpipe -g profpipe -m 644 /usr/share/profpipe/samples/example.heap.pb.gz \
      /var/lib/profpipe/dropin/pkgtest.heap.pb.gz.part; }
mv /var/lib/profpipe/dropin/pkgtest.heap.pb.gz.part /var/lib/profpipe/dropin/pkgtest.heap.pb.gz
dropped() { grep -q '"service_name":"pkgtest"' "$idx"; }
wait_for 30 dropped || fail "a dropped file was not exported: $(tail -5 "$T/run.log")"
[ "$(stat -c %U "$(ls -d /var/lib/profpipe/profiles/pkgtest/memory/* | sed -n 1p)")" = profpipe ] ||
  fail "profiles not written as profpipe"
stop_profpipe "$run_pid"
pass "installed binary on the installed config, as profpipe: 3 samples and a dropped file exported"

# the perf receiver with the unit's capabilities, and without them
if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 0 ]; then
  perf_build_workload "$T/burner"
  chmod 755 "$T" "$T/burner"
  perf_config "$T/perf.yaml" /var/lib/profpipe/perf-out "$(free_port)" '    interval: 1s
    comm: "^burner$"'
  chmod 644 "$T/perf.yaml"
  as_service /usr/bin/profpipe run -c "$T/perf.yaml" >"$T/perf.log" 2>&1 &
  PIDS+=($!)
  perf_pid=$!
  perf_wait_sampling perf
  "$T/burner" 10 1 >/dev/null &
  PIDS+=($!)
  burner=$!
  wait "$burner" || fail "burner failed"
  burner_seen() { grep -q "\"pid\":\"$burner\"" /var/lib/profpipe/perf-out/index.jsonl; }
  wait_for 30 burner_seen || fail "no profile of the burner as profpipe with the unit's caps: $(tail -5 "$T/perf.log")"
  stop_profpipe "$perf_pid"
  rc=0
  (cd /var/lib/profpipe && timeout 60 setpriv --reuid=profpipe --regid=profpipe --init-groups \
     --inh-caps=-all /usr/bin/profpipe run -c "$T/perf.yaml") >"$T/nocaps.log" 2>&1 || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "perf as profpipe without caps: exit $rc"
  grep -q CAP_PERFMON "$T/nocaps.log" || fail "without caps: $(tail -3 "$T/nocaps.log")"
  pass "perf receiver as profpipe: samples pid $burner with CAP_PERFMON/SYS_PTRACE/DAC_READ_SEARCH ambient, refused without"
fi

# --- upgrades keep a config edit; remove keeps it; purge --------------
echo "# edited by the admin" >>/etc/profpipe/profpipe.yaml
edited() { tail -1 /etc/profpipe/profpipe.yaml | grep -x '# edited by the admin' >/dev/null; }
dpkg -i "$T/pkg/$DEB" </dev/null >"$T/reinstall.log" 2>&1 || fail "reinstall: $(cat "$T/reinstall.log")"
edited || fail "reinstall lost the config edit"
(cd "$BUILD_DIR" && cpack -G DEB -B "$T/pkg2" -D CPACK_DEBIAN_PACKAGE_RELEASE=2 >"$T/cpack2.log" 2>&1) ||
  fail "cpack -2: $(tail -5 "$T/cpack2.log")"
dpkg -i "$T/pkg2/profpipe_0.1.0-2_amd64.deb" </dev/null >"$T/upgrade.log" 2>&1 ||
  fail "upgrade: $(cat "$T/upgrade.log")"
[ "$(dpkg-query -W -f='${Version}' profpipe)" = 0.1.0-2 ] || fail "not upgraded"
edited || fail "upgrade lost the config edit"
pass "config edit kept across a reinstall and the upgrade to 0.1.0-2"

dpkg -r profpipe >"$T/remove.log" 2>&1 || fail "dpkg -r: $(cat "$T/remove.log")"
[ ! -e /usr/bin/profpipe ] || fail "/usr/bin/profpipe left after remove"
edited || fail "dpkg -r did not keep the edited config"
pass "dpkg -r: binary gone, edited config kept"

dpkg -P profpipe >"$T/purge.log" 2>&1 || fail "dpkg -P: $(cat "$T/purge.log")"
left=$(ls -d /etc/profpipe /etc/default/profpipe /var/lib/profpipe /usr/lib/profpipe \
         /usr/share/profpipe /usr/share/doc/profpipe /usr/lib/systemd/system/profpipe.service \
         /etc/systemd/system/multi-user.target.wants/profpipe.service 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
getent passwd profpipe >/dev/null || fail "purge removed the profpipe user (policy: leave it)"
pass "purge: nothing left but the user $(getent passwd profpipe | cut -d: -f1) (kept, as Debian policy says)"
