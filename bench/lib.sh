# Sourced by the bench/<name> drivers: build the targets, start the private services that
# are not running (and stop only those at the end), run the bench with its command line
# recorded, print its JSON line last (docs/benchmarks.md).
#   bench_main NAME BINARY "TARGET ..." "$@"
set -euo pipefail

BENCH_ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd -P)
cd "$BENCH_ROOT"
export PATH="$PATH:/usr/sbin:/sbin"
BUILD_DIR=build

bench_main() {
  local name=$1 bin=$2 targets=$3
  shift 3
  die() { echo "bench/$name: error: $*" >&2; exit 1; }
  say() { echo "bench/$name: $*" >&2; }

  # 1. Build only what the bench needs.
  command -v cmake >/dev/null && command -v ninja >/dev/null || die "cmake/ninja not found: run ./gxhub setup"
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2 || die "cmake configure failed"
  fi
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" --target $targets >&2 || die "build failed"
  [[ -d var/pki ]] || ./gxhub pki >&2 || die "./gxhub pki failed"

  # 2. The private services: note which are down now, so that only those are stopped.
  BENCH_STARTED=()
  hub/services/postgres.sh status >/dev/null 2>&1 || BENCH_STARTED+=(postgres)
  hub/services/rabbitmq.sh status >/dev/null 2>&1 || BENCH_STARTED+=(rabbitmq)
  local out; out=$(mktemp)
  trap 'bench_stop_started; rm -f -- "'"$out"'"' EXIT
  if (( ${#BENCH_STARTED[@]} > 0 )); then
    say "starting the private services (${BENCH_STARTED[*]} not running)"
    ./gxhub services start >&2 || die "./gxhub services start failed"
  fi

  # 3. Run in the background so that INT/TERM reach it; stdout is the JSON line.
  say "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
  BENCH_COMMAND="bench/$name${*:+ $*}" "$bin" "$@" >"$out" &
  local child=$! rc=0
  trap 'kill -TERM "'"$child"'" 2>/dev/null || true' INT TERM
  wait "$child" || rc=$?
  while kill -0 "$child" 2>/dev/null; do rc=0; wait "$child" || rc=$?; done
  trap - INT TERM
  say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

  # 4. Stop what we started, 5. then the JSON, last.
  bench_stop_started
  [[ -s $out ]] || die "$bin printed no result (exit code $rc)"
  tail -n 1 -- "$out"
  return "$rc"
}

# Services this script started are stopped, unless somebody else uses them by now.
bench_stop_started() {
  local s n
  for s in "${BENCH_STARTED[@]}"; do
    case $s in
      postgres) n=$(hub/services/postgres.sh psql -X -Atc "SELECT count(*) FROM pg_stat_activity
                      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null) || n=0 ;;
      rabbitmq) n=$(hub/services/rabbitmq.sh ctl list_connections -q --no-table-headers name 2>/dev/null | grep -c .) || n=0 ;;
    esac
    if (( ${n:-0} > 0 )); then
      echo "bench: leaving $s running: started here, but others are connected to it now" >&2
      continue
    fi
    echo "bench: stopping $s (started here)" >&2
    "hub/services/$s.sh" stop >&2 || echo "bench: could not stop $s" >&2
  done
  BENCH_STARTED=()
}
