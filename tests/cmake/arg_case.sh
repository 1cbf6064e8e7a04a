#!/usr/bin/env bash
# Configure the test project with one argument-error CASE; configure must fail
# and print the expected message. With a 6th argument "build", configure must
# succeed and the build fail with the message instead.
# Usage: arg_case.sh <modules> <fake> <project> <case> <regex> [build]
set -uo pipefail
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export FAKE_COUNTER_DIR=$T
out=$(cmake -S "$3" -B "$T/b" -G Ninja -DFAKE_TOOLS="$2" -DFASTBOOP_MODULES="$1" -DCASE="$4" \
      -DFASTBOOP_CACHE_DIR= 2>&1)
rc=$?
if [ "${6:-}" = build ]; then
  [ $rc -eq 0 ] || { echo "FAIL: case $4 did not configure:"; echo "$out"; exit 1; }
  out=$(cmake --build "$T/b" 2>&1)
  rc=$?
  [ $rc -ne 0 ] || { echo "FAIL: case $4 built successfully"; exit 1; }
else
  [ $rc -ne 0 ] || { echo "FAIL: case $4 configured successfully"; exit 1; }
fi
echo "$out" | tr -s " \n" "  " | grep -E -q -- "$5" || { echo "FAIL: case $4 did not print /$5/:"; echo "$out"; exit 1; }
echo "ok: $4"
