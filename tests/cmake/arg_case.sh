#!/usr/bin/env bash
# Configure the test project with one argument-error CASE; configure must fail
# and print the expected message. Usage: arg_case.sh <modules> <fake> <project> <case> <regex>
set -uo pipefail
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
out=$(cmake -S "$3" -B "$T/b" -G Ninja -DFAKE_TOOLS="$2" -DFASTBOOP_MODULES="$1" -DCASE="$4" \
      -DFASTBOOP_CACHE_DIR= 2>&1)
rc=$?
[ $rc -ne 0 ] || { echo "FAIL: case $4 configured successfully"; exit 1; }
echo "$out" | tr -s " \n" "  " | grep -E -q -- "$5" || { echo "FAIL: case $4 did not print /$5/:"; echo "$out"; exit 1; }
echo "ok: $4"
