#!/usr/bin/env bash
# `npm run demo`: the main job on a fresh machine with only Node 20 and apt.
# Installs what it lacks (npm packages; redis-server via apt-get when REDIS_URL
# is unset and no redis-server is installed), starts a private redis-server on
# loopback, uses the embedded PostgreSQL (PGlite) unless DATABASE_URL is set,
# then runs scripts/demo.ts: the connector, fed the bundled fixtures over HTTP.
# `npm run demo -- --serve` keeps the connector and the review workbench up until
# Ctrl-C (or SIGTERM), then stops the connector and the private redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'demo: %s\n' "$*" >&2; }

if [[ ! -d node_modules/tsx || ! -d node_modules/bullmq ]]; then
  log "installing npm packages (npm ci)"
  node scripts/install-deps.cjs >&2 || { log "npm install failed (see above); nothing was started"; exit 1; }
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/trialbridge-demo.XXXXXX")"
redis_pid=''
cleanup() {
  [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT

if [[ -z "${REDIS_URL:-}" ]]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server with apt-get"
    [[ $EUID -eq 0 ]] || { log "need root for apt-get; install redis-server or set REDIS_URL"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get -qq update >&2
    DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends redis-server >&2
  fi
  # A port nobody listens on, and then proof that the server answering there is
  # the one we started (its run_id from INFO), not another that took the port.
  port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  port=''
  for _ in $(seq 1 50); do
    candidate=$((21000 + RANDOM % 2000))
    if port_free "$candidate"; then port=$candidate; break; fi
  done
  [[ -n "$port" ]] || { log "no free loopback port for redis-server in 21000-22999"; exit 1; }
  # BullMQ needs appendonly and noeviction (design.md habit 10).
  # In a session of its own (setsid) so Ctrl-C at the terminal reaches only the
  # connector, which still needs Redis while it stops; cleanup stops Redis after.
  setsid_cmd=(); command -v setsid >/dev/null 2>&1 && setsid_cmd=(setsid)
  "${setsid_cmd[@]}" redis-server --bind 127.0.0.1 --port "$port" --dir "$workdir" --appendonly yes --maxmemory-policy noeviction \
    --save '' --daemonize no --pidfile "$workdir/redis.pid" >"$workdir/redis.log" 2>&1 &
  redis_pid=$!
  ours=''
  for _ in $(seq 1 100); do
    kill -0 "$redis_pid" 2>/dev/null || { cat "$workdir/redis.log" >&2; log "redis-server failed to start (port $port taken?)"; exit 1; }
    served_pid="$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p' || true)"
    if [[ -n "$served_pid" ]]; then
      [[ "$served_pid" == "$redis_pid" ]] && { ours=1; break; }
      log "port $port answers as another redis-server (pid $served_pid), not ours"; exit 1
    fi
    sleep 0.1
  done
  [[ -n "$ours" ]] || { cat "$workdir/redis.log" >&2; log "redis-server did not answer on port $port"; exit 1; }
  export REDIS_URL="redis://127.0.0.1:$port"
  log "private redis-server on $REDIS_URL"
fi
export TRIALBRIDGE_DATA_DIR="${TRIALBRIDGE_DATA_DIR:-$workdir/pglite}"
# In the background with signals forwarded, so a SIGTERM to this script (not just
# a Ctrl-C to the terminal's process group) stops the connector cleanly too;
# demo.ts treats the repeated signal of a Ctrl-C as one.
node --import tsx scripts/demo.ts "$@" &
demo_pid=$!
trap 'kill -INT "$demo_pid" 2>/dev/null || true' INT
trap 'kill -TERM "$demo_pid" 2>/dev/null || true' TERM
# A trapped signal interrupts `wait`; wait again until the connector has stopped,
# then once more for its exit status (bash keeps it for a reaped child).
while kill -0 "$demo_pid" 2>/dev/null; do wait "$demo_pid" || true; done
status=0
wait "$demo_pid" || status=$?
exit "$status"
