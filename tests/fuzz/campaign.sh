#!/usr/bin/env bash
# A fuzz campaign: every libFuzzer target of a FASTBOOP_FUZZ=ON build (the `ci`
# preset) runs for SECONDS from a fresh copy of its seed corpus, with a
# per-input time limit so that slow inputs are findings too. Artifacts (crash-,
# timeout-, oom-, leak-, slow-unit-) are kept under OUT/<target>/, the grown
# corpus under OUT/<target>/corpus. One summary line per target; exit 1 when any
# target found something.
#
#   tests/fuzz/campaign.sh [BUILD_DIR] [SECONDS] [OUT]
#     BUILD_DIR  default build/ci;   SECONDS  default 150 per target
#     OUT        default $BUILD_DIR/fuzz-campaign-<UTC time>
# FASTBOOP_FUZZ_TARGETS="a b" limits the run to those targets;
# FASTBOOP_FUZZ_INPUT_TIMEOUT (default 10 s) and FASTBOOP_FUZZ_RSS_MB (2048)
# are the per-input limits. The CTest runs of the same targets (15 s, fixed
# seed) are the gate; this is the search, to run before resolving parser work.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build/ci}
seconds=${2:-150}
out=${3:-$build/fuzz-campaign-$(date -u +%Y%m%dT%H%M%SZ)}
timeout_s=${FASTBOOP_FUZZ_INPUT_TIMEOUT:-10}
rss=${FASTBOOP_FUZZ_RSS_MB:-2048}

# Executables land in bin/ (CMAKE_RUNTIME_OUTPUT_DIRECTORY); tests/ is kept
# for a tree configured without it.
dirs=()
for d in "$build/bin" "$build/tests"; do [ -d "$d" ] && dirs+=("$d"); done
[ ${#dirs[@]} -gt 0 ] || { echo "campaign: $build has neither bin/ nor tests/" >&2; exit 2; }
mapfile -t targets < <(
  if [ -n "${FASTBOOP_FUZZ_TARGETS:-}" ]; then
    for t in $FASTBOOP_FUZZ_TARGETS; do find "${dirs[@]}" -type f -perm -u+x -name "$t"; done
  else
    find "${dirs[@]}" -type f -perm -u+x -name 'fuzz_*'
  fi | sort -u)
[ ${#targets[@]} -gt 0 ] || {
  echo "campaign: no fuzz_* targets under ${dirs[*]} (configure with the ci preset: FASTBOOP_FUZZ=ON)" >&2
  exit 2
}
mkdir -p "$out"
echo "campaign: ${#targets[@]} targets x ${seconds} s, per-input timeout ${timeout_s} s, rss ${rss} MB -> $out"

found=0
summary=$out/summary.txt
: >"$summary"
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  dir=$out/$name
  mkdir -p "$dir/corpus"
  seeds=$here/tests/fuzz/corpus/$name
  [ -d "$seeds" ] && cp -r "$seeds/." "$dir/corpus/"
  seeds_n=$(find "$dir/corpus" -type f | wc -l)
  rc=0
  # -fork would survive a finding and keep searching; one process keeps
  # the statistics simple and a finding is reported either way.
  ASAN_OPTIONS=detect_leaks=0 "$bin" -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss" \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log.txt" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log.txt" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log.txt" | tail -n 1 | cut -d' ' -f2)
  corpus_n=$(find "$dir/corpus" -type f | wc -l)
  findings=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
    -o -name 'leak-*' -o -name 'slow-unit-*' \) | wc -l)
  verdict=clean
  if [ "$rc" != 0 ] || [ "$findings" != 0 ]; then
    verdict="FOUND (exit $rc): $(find "$dir" -maxdepth 1 -type f -name '*-*' ! -name 'log.txt' -printf '%f ' )"
    found=1
  fi
  line=$(printf '%-24s execs=%-10s exec/s=%-7s cov=%-6s corpus=%s->%s  %s' "$name" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "$seeds_n" "$corpus_n" "$verdict")
  echo "$line" | tee -a "$summary"
done
echo "campaign: summary in $summary"
exit $found
