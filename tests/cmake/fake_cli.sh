#!/usr/bin/env bash
# The stand-in tools accept exactly the options listed on their "# accepts:"
# line and reject the rest; every listed option must exist in the real tool
# (its --help), so the functions cannot pass an option the real tool lacks
# while the machinery tests stay green.
# Usage: fake_cli.sh <fastboop bin dir> <fake tools dir>
set -uo pipefail
BIN=$1 FAKE=$2
rc=0
CNT=$(mktemp -d); trap 'rm -rf "$CNT"' EXIT
check() { # <fake> <its leading arguments> <real help command...>
  local fake=$1 lead=$2; shift 2
  local help opts
  help=$("$@" --help 2>&1) || { echo "FAIL: $* --help"; rc=1; return; }
  opts=$(sed -n 's/^# accepts: //p' "$FAKE/$fake")
  [ -n "$opts" ] || { echo "FAIL: $fake has no accepts line"; rc=1; return; }
  for o in $opts; do
    if echo "$help" | grep -E -q -- "(^|[ ,])$o([ ,=]|\$)"; then
      echo "ok: $fake $o"
    else
      echo "FAIL: $fake accepts $o, but '$*' has no such option"; rc=1
    fi
  done
  # And the fake really refuses what it does not list.
  local err
  if err=$(FAKE_COUNTER_DIR=$CNT "$FAKE/$fake" $lead --bogus-option 1 2>&1 >/dev/null); then
    echo "FAIL: $fake accepted --bogus-option"; rc=1
  elif ! echo "$err" | grep -q "unknown option '--bogus-option'"; then
    echo "FAIL: $fake did not name the unknown option: $err"; rc=1
  fi
}
check fake-stage0 "build src" "$BIN/fastboop-stage0" build
check fake-bootimg "" "$BIN/fastboop-bootimg"
check fake-profile "compile m.yaml" "$BIN/fastboop-profile" compile
exit $rc
