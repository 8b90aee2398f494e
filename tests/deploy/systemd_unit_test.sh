#!/usr/bin/env bash
# The systemd unit as installed, checked by systemd's own tools. Driven by ctest:
#   systemd_unit_test.sh install|verify|security BUILD_DIR BINARY UNIT_DIR TMPFILES_DIR CONFIG
# BINARY, UNIT_DIR, TMPFILES_DIR and CONFIG are the absolute paths CMake installs to; the
# install is staged under a temporary DESTDIR. Exit 77 (skipped) when a tool is missing.
set -uo pipefail
mode=$1 build=$2 binary=$3 unit_dir=$4 tmpfiles_dir=$5 config=$6
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/oomsentinel-unit-XXXXXX")
trap 'rm -rf "$stage"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

install_staged() {
  DESTDIR="$stage" "${CMAKE:-cmake}" --install "$build" >"$stage.log" 2>&1 || { cat "$stage.log"; fail "cmake --install failed"; }
  rm -f "$stage.log"
}

need_analyze() {
  command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed (Debian package systemd)"; exit 77; }
}

# `systemd-analyze verify` exits 0 on an unknown key (it only warns), so any output is a failure.
verify_quiet() {
  local out rc
  out=$(systemd-analyze verify "$1" 2>&1); rc=$?
  [[ $rc -eq 0 && -z "$out" ]] || { echo "$out"; return 1; }
}

case "$mode" in
install)
  install_staged
  unit="$stage$unit_dir/oomsentinel.service"
  [[ -x "$stage$binary" ]] || fail "no executable at $stage$binary"
  [[ -f "$unit" ]] || fail "no unit at $unit"
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  [[ "${exec_start%% *}" == "$binary" ]] || fail "ExecStart runs '${exec_start%% *}', not the installed $binary"
  [[ "$exec_start" == *" run --config $config"* ]] || fail "ExecStart does not pass --config $config: $exec_start"
  cmp -s "$stage$config" "$source_dir/config/oomsentinel.example.yaml" || fail "$config is not config/oomsentinel.example.yaml"
  grep -qx 'd /var/lib/oomsentinel/incidents 0700 root root -' "$stage$tmpfiles_dir/oomsentinel.conf" ||
    fail "tmpfiles.d entry for /var/lib/oomsentinel/incidents missing in $stage$tmpfiles_dir/oomsentinel.conf"
  grep -q '^StateDirectory=oomsentinel$' "$unit" || fail "the unit has no StateDirectory=oomsentinel"
  # The children's cgroups (exec hooks, jcmd: dumpers/child.h): systemd delegates the service's
  # cgroup, and that cgroup alone is writable under ProtectControlGroups=yes, in either layout.
  # Without these lines ChildCgroup::create fails and a hook's setsid() descendant outlives it.
  grep -qx 'Delegate=yes' "$unit" || fail "the unit does not delegate its cgroup (Delegate=yes)"
  grep -qx 'ProtectControlGroups=yes' "$unit" || fail "the unit's cgroupfs is no longer read-only"
  slice=$(sed -n 's/^Slice=//p' "$unit")
  [[ -n "$slice" ]] || fail "the unit names no Slice=, so its cgroup's path is not known"
  rw=$(sed -n 's/^ReadWritePaths=//p' "$unit")
  for layout in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    [[ " $rw " == *" -$layout/$slice/%n "* ]] ||
      fail "ReadWritePaths= does not make -$layout/$slice/%n writable: $rw"
  done
  # An administrator's config survives a second install.
  echo "# edited" >>"$stage$config"
  install_staged
  grep -q '^# edited$' "$stage$config" || fail "a second install overwrote the edited $config"
  echo "installed: $binary, $unit_dir/oomsentinel.service (ExecStart=$exec_start), $config, $tmpfiles_dir/oomsentinel.conf"
  ;;
verify)
  need_analyze
  install_staged
  # verify checks that ExecStart's binary exists: point a copy at the staged one.
  copy="$stage/oomsentinel.service"
  sed -e "s|^ExecStart=$binary |ExecStart=$stage$binary |" -e "s| --config $config| --config $stage$config|" \
    "$stage$unit_dir/oomsentinel.service" >"$copy"
  grep -q "^ExecStart=$stage$binary run --config $stage$config" "$copy" || fail "could not point the copy at the staged binary"
  verify_quiet "$copy" || fail "systemd-analyze verify found problems in the unit"
  # Each drop-in the doc directory ships, appended as systemd would apply it, in its own directory
  # (the unit's file name must stay oomsentinel.service).
  for dropin in jvm-dumper.conf throttle-during-dump.conf; do
    installed=$(find "$stage" -path '*/doc/*' -name "$dropin" | head -1)
    [[ -n "$installed" ]] || fail "cmake --install did not put $dropin in the doc directory"
    mkdir -p "$stage/with-$dropin"
    cat "$copy" "$installed" >"$stage/with-$dropin/oomsentinel.service"
    verify_quiet "$stage/with-$dropin/oomsentinel.service" || fail "systemd-analyze verify found problems with $dropin"
  done
  # The check must be able to fail: a typo and a missing binary are both caught.
  sed 's/^Type=notify$/Tpye=notify/' "$copy" >"$stage/typo.service"
  verify_quiet "$stage/typo.service" >/dev/null && fail "verify did not catch a misspelt key"
  sed "s|^ExecStart=$stage$binary|ExecStart=$stage/nowhere/oomsentinel|" "$copy" >"$stage/missing.service"
  verify_quiet "$stage/missing.service" >/dev/null && fail "verify did not catch a missing ExecStart binary"
  echo "systemd-analyze verify: clean, also with jvm-dumper.conf and throttle-during-dump.conf ($(systemd-analyze --version | head -1)); a typo and a missing binary are caught"
  ;;
security)
  need_analyze
  unit="$build/systemd/oomsentinel.service"
  score_of() {
    systemd-analyze security --offline=yes "$1" 2>/dev/null |
      sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
  }
  score=$(score_of "$unit")
  [[ -n "$score" ]] || fail "no exposure level in: $(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -3)"
  # With the JVM drop-in appended (its [Service] lines come later and win; capabilities add up).
  jvm="$stage/oomsentinel.service"
  cat "$unit" "$source_dir/systemd/jvm-dumper.conf" >"$jvm"
  jvm_score=$(score_of "$jvm")
  throttle="$stage/throttle/oomsentinel.service"
  mkdir -p "$stage/throttle"
  cat "$unit" "$source_dir/systemd/throttle-during-dump.conf" >"$throttle"
  throttle_score=$(score_of "$throttle")
  echo "systemd-analyze security --offline=yes: exposure $score (with systemd/jvm-dumper.conf: $jvm_score; with systemd/throttle-during-dump.conf: $throttle_score)"
  awk -v s="$throttle_score" 'BEGIN { exit !(s < 3.5) }' || fail "exposure with throttle-during-dump.conf is $throttle_score, not under 3.5"
  # jcmd in a JVM's namespaces gives up four lines (CAP_SYS_ADMIN, chroot, setns into six kinds
  # of namespace, W+X): 3.8 with systemd 252; a drop-in that gives up more than that fails here.
  awk -v s="$jvm_score" 'BEGIN { exit !(s < 4.0) }' || fail "exposure with jvm-dumper.conf is $jvm_score, not under 4.0"
  awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' || fail "exposure $score is not under 3.0 (OK)"
  # Delegated, and still no write access to the rest of cgroupfs, as systemd itself reads the unit.
  report=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null)
  grep -q 'Service maintains its own delegated control group subtree' <<<"$report" ||
    fail "systemd does not see the unit's cgroup as delegated"
  grep -q 'Service cannot modify the control group file system' <<<"$report" ||
    fail "systemd rates the unit's cgroupfs as writable"
  # The check can fail: the same unit without its hardening lines is rated far above 3.0.
  grep -v -E '^(Protect|Private|Restrict|SystemCall|CapabilityBoundingSet|NoNewPrivileges|LockPersonality|MemoryDenyWriteExecute|UMask)' \
    "$unit" >"$stage/bare.service"
  bare=$(score_of "$stage/bare.service")
  awk -v s="$bare" 'BEGIN { exit !(s >= 3.0) }' || fail "the unit without hardening rates $bare: the score is not read right"
  echo "without its hardening lines: $bare"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
