#!/usr/bin/env bash
# Run pytest with the clock at given UTC times of day, to find tests that pass only at some
# hours (one did: it failed in the first hours of a UTC day).
#
#   bash tests/clock_sweep.sh "00:30 12:00 23:30" tests/conversions -m "not browser"
#
# The tests and a PostgreSQL of their own (on port 5440, under /tmp) both run under libfaketime
# (Debian's faketime package) with the same offset, so Python's clock and the database's now()
# agree; Redis is the machine's (its TTLs count real seconds, which no test depends on).
set -euo pipefail
cd "$(dirname "$0")/.."

times=$1
shift
command -v faketime >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
}
lib=$(find /usr/lib -name libfaketimeMT.so.1 | head -1)
bin=$(dirname "$(find /usr/lib/postgresql -name pg_ctl | sort | tail -1)")
port=5440
data=/tmp/gokart-clock-sweep-pg

stop_postgres() { su postgres -c "$bin/pg_ctl -D $data -m immediate stop" >/dev/null 2>&1 || true; }
trap stop_postgres EXIT

status=0
for time in $times; do
  # Tomorrow at that time (UTC), as an offset from now: both clocks move on from there together.
  target=$(date -u -d "tomorrow $time" +%s)
  offset=$((target - $(date -u +%s)))
  stop_postgres
  rm -rf "$data" && mkdir -p "$data" && chown postgres "$data"
  su postgres -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
  su postgres -c "LD_PRELOAD=$lib FAKETIME=+${offset}s $bin/pg_ctl -D $data -w \
    -o '-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
  echo "== clock at $(date -u -d "@$target" '+%Y-%m-%d %H:%M') UTC =="
  LD_PRELOAD=$lib FAKETIME="+${offset}s" DEBUG=1 \
    DATABASE_URL="postgres://postgres@127.0.0.1:$port/gokart" \
    CELERY_BROKER_URL="${CELERY_BROKER_URL:-redis://127.0.0.1:6379/7}" \
    CELERY_TASK_DEFAULT_QUEUE=gokart-test-clock \
    .venv/bin/pytest -p no:cacheprovider -q "$@" || status=1
done
exit $status
