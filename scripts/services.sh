#!/usr/bin/env bash
# Throwaway Redis + PostgreSQL for tests and local development.
#
#   scripts/services.sh start DIR   install what is missing (apt), start both servers
#                                   on 127.0.0.1 with free ports and data in DIR, create
#                                   database "trialbridge", write DIR/env
#   scripts/services.sh stop DIR    stop both servers (no-op if they are not running)
#   scripts/services.sh status DIR  exit 0 if both servers of DIR are up
#
# DIR/env, written last (its presence means both servers answer):
#   export REDIS_URL=redis://127.0.0.1:PORT
#   export DATABASE_URL=postgres://postgres@127.0.0.1:PORT/trialbridge
# PostgreSQL trusts every connection on 127.0.0.1 (test data only; never use this
# for real data). Redis runs with appendonly + noeviction, as BullMQ requires.
#
# Environment knobs:
#   TRIALBRIDGE_SERVICES_TIMEOUT    seconds to wait for each server (default 60)
#   TRIALBRIDGE_SERVICES_OWNER_PID  if set, a watchdog stops the servers once this
#                                   process is gone (so a killed test run leaks nothing)
#   TRIALBRIDGE_SERVICES_REMOVE_DIR=1  ... and then also removes DIR
#
# Nothing here uses systemd or the default ports, so it runs beside any other
# Redis/PostgreSQL on the machine and in containers without an init system.
set -euo pipefail

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

TIMEOUT="${TRIALBRIDGE_SERVICES_TIMEOUT:-60}"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# ---------------------------------------------------------------- install ---

pg_bindir() {
  # Highest installed major version; empty if none.
  local d best=''
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/postgres" && -x "$d/initdb" ]] || continue
    if [[ -z "$best" ]] || (( $(basename "$(dirname "$d")") > $(basename "$(dirname "$best")") )); then best="$d"; fi
  done
  printf '%s' "$best"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root to run: $* (install redis-server and postgresql yourself, or run as root)"
  fi
}

ensure_installed() {
  local pkgs=()
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-server)
  [[ -n "$(pg_bindir)" ]] || pkgs+=(postgresql)
  ((${#pkgs[@]})) || return 0
  log "installing ${pkgs[*]} with apt-get (not found on this machine)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${pkgs[*]} yourself"
  # Concurrent test runs on one machine must not fight over the dpkg lock.
  exec 9>"${TMPDIR:-/tmp}/trialbridge-services-install.lock"
  flock -w 600 9 || die "timed out waiting for another services.sh install"
  # Stop the packages' init scripts from starting default-port servers during
  # install (standard Debian mechanism; only if no policy is in place already).
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ $EUID -eq 0 && ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
  fi
  local rc=0
  {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq update &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "${pkgs[@]}"
  } >&2 || rc=$?
  ((added_policy)) && rm -f "$policy"
  exec 9>&-
  ((rc == 0)) || die "apt-get install ${pkgs[*]} failed (exit $rc)"
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after install"
  [[ -n "$(pg_bindir)" ]] || die "PostgreSQL server binaries still missing after install (/usr/lib/postgresql/*/bin/postgres)"
}

# ------------------------------------------------------------------ ports ---

port_in_use() {
  # True if anything listens on 127.0.0.1:$1 (ss when present, else a connect probe).
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

free_port() {
  # A random free port in [$1, $1+2000). Another process may still take it
  # before our server binds; callers retry with a new port when binding fails.
  local base=$1 p i
  for ((i = 0; i < 200; i++)); do
    p=$((base + RANDOM % 2000))
    port_in_use "$p" || { printf '%s' "$p"; return 0; }
  done
  die "no free port found in $base-$((base + 1999))"
}

# ------------------------------------------------------------------ redis ---

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
read_pid() { if [[ -s "$1" ]]; then head -n1 "$1" | tr -dc '0-9'; fi; }

redis_up() { # DIR → true if our redis answers on the recorded port
  local pid port
  pid="$(read_pid "$1/redis.pid")"; port="$(cat "$1/redis.port" 2>/dev/null || true)"
  pid_alive "$pid" && [[ -n "$port" ]] &&
    [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]
}

start_redis() {
  local dir=$1 attempt port pid deadline
  if redis_up "$dir"; then log "redis already running on port $(cat "$dir/redis.port")"; return 0; fi
  mkdir -p "$dir/redis"
  for attempt in 1 2 3 4 5; do
    port="$(free_port 20000)"
    rm -f "$dir/redis.pid"
    # stdio goes to files so that callers capturing our output do not wait on the server.
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" \
      --appendonly yes --maxmemory-policy noeviction --save '' \
      --daemonize no --protected-mode yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" </dev/null >>"$dir/redis.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/redis.pid"
    echo "$port" >"$dir/redis.port"
    deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
      pid_alive "$pid" || break
      # The answer must come from our process, not from another server that won the port.
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')" == "$pid" ]]; then
        log "redis ready on 127.0.0.1:$port (pid $pid)"
        return 0
      fi
      sleep 0.1
    done
    if pid_alive "$pid"; then
      kill "$pid" 2>/dev/null || true
      die "redis did not answer on port $port within ${TIMEOUT}s; log: $dir/redis.log"
    fi
    if ! tail -n 5 "$dir/redis.log" | grep -q 'Address already in use'; then
      tail -n 10 "$dir/redis.log" >&2 || true
      die "redis exited at start; log: $dir/redis.log"
    fi
    log "redis port $port was taken (attempt $attempt); retrying with another port"
  done
  die "redis failed to start 5 times; log: $dir/redis.log"
}

stop_redis() {
  local dir=$1 pid
  pid="$(read_pid "$dir/redis.pid")"
  if pid_alive "$pid"; then
    log "stopping redis (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" redis
  fi
  rm -f "$dir/redis.pid"
}

wait_gone() { # PID NAME
  local deadline=$((SECONDS + TIMEOUT))
  while pid_alive "$1"; do
    if ((SECONDS >= deadline)); then
      log "$2 (pid $1) did not stop within ${TIMEOUT}s; sending SIGKILL"
      kill -KILL "$1" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

# --------------------------------------------------------------- postgres ---

# PostgreSQL refuses to run as root: as root, run it as the "postgres" user.
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_datadir() { # DIR → data directory path (recorded at first start)
  if [[ -s "$1/pgdata.path" ]]; then cat "$1/pgdata.path"; else printf '%s' "$1/pg"; fi
}

pg_up() {
  local dir=$1 bin port data
  bin="$(pg_bindir)"; [[ -n "$bin" ]] || return 1
  port="$(cat "$dir/pg.port" 2>/dev/null || true)"; [[ -n "$port" ]] || return 1
  data="$(pg_datadir "$dir")"
  pid_alive "$(read_pid "$data/postmaster.pid")" &&
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 2>/dev/null
}

prepare_pgdata() {
  local dir=$1 bin=$2 data
  data="$(pg_datadir "$dir")"
  if [[ ! -s "$dir/pgdata.path" ]]; then
    if [[ $EUID -eq 0 ]]; then
      id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (is the postgresql package installed?)"
      # mktemp -d makes DIR 0700; the postgres user must be able to traverse it.
      chmod o+x "$dir" 2>/dev/null || true
      if ! runuser -u postgres -- test -x "$dir"; then
        # An ancestor of DIR is closed to "postgres" (e.g. under /root): keep the
        # cluster in a separate temp dir, removed again by `stop`.
        data="$(mktemp -d "${TMPDIR:-/tmp}/trialbridge-pg.XXXXXX")"
        chmod 755 "$data"
        data="$data/pg"
        log "postgres cannot reach $dir; keeping its data in $data"
      fi
    fi
    echo "$data" >"$dir/pgdata.path"
  fi
  if [[ ! -s "$data/PG_VERSION" ]]; then
    rm -rf "$data"
    mkdir -p "$data"
    if [[ $EUID -eq 0 ]]; then chown postgres: "$data"; fi
    chmod 700 "$data"
    log "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
      >"$dir/initdb.log" 2>&1 || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed; log: $dir/initdb.log"; }
  fi
}

start_postgres() {
  local dir=$1 bin data attempt port log_file deadline
  bin="$(pg_bindir)"
  if pg_up "$dir"; then log "postgres already running on port $(cat "$dir/pg.port")"; return 0; fi
  prepare_pgdata "$dir" "$bin"
  data="$(pg_datadir "$dir")"
  # A postgres killed hard leaves a stale postmaster.pid; postgres itself
  # handles that, but a live one from an earlier start must be stopped first.
  stop_postgres_only "$dir" quiet
  # Beside the data dir: postgres must be able to write it (see prepare_pgdata).
  log_file="$(dirname "$data")/postgres.log"
  touch "$log_file"
  if [[ $EUID -eq 0 ]]; then chown postgres: "$log_file"; fi
  for attempt in 1 2 3 4 5; do
    port="$(free_port 40000)"
    echo "$port" >"$dir/pg.port"
    # No Unix socket (only TCP on loopback), so nothing depends on /var/run/postgresql.
    # fsync off etc.: throwaway test data, speed over durability.
    if as_pg "$bin/pg_ctl" start -D "$data" -l "$log_file" -w -t "$TIMEOUT" -s \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      </dev/null >>"$dir/pg_ctl.log" 2>&1; then
      deadline=$((SECONDS + TIMEOUT))
      until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; do
        ((SECONDS < deadline)) || die "postgres not ready on port $port within ${TIMEOUT}s; log: $log_file"
        sleep 0.1
      done
      # Make sure the server answering is ours, not one that won the port race.
      local seen
      seen="$("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtqc 'show data_directory' 2>/dev/null || true)"
      [[ "$seen" == "$data" ]] || die "port $port answers with data directory '$seen', expected '$data'"
      log "postgres ready on 127.0.0.1:$port (data $data)"
      return 0
    fi
    if pid_alive "$(read_pid "$data/postmaster.pid")"; then
      stop_postgres_only "$dir" quiet
      die "postgres did not become ready within ${TIMEOUT}s; log: $log_file"
    fi
    if ! tail -n 5 "$log_file" | grep -q 'could not create any TCP/IP sockets'; then
      tail -n 10 "$dir/pg_ctl.log" "$log_file" >&2 || true
      die "postgres failed to start; log: $log_file"
    fi
    log "postgres port $port was taken (attempt $attempt); retrying with another port"
  done
  die "postgres failed to start 5 times; log: $log_file"
}

create_database() {
  local dir=$1 bin port
  bin="$(pg_bindir)"; port="$(cat "$dir/pg.port")"
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1)
  if [[ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'trialbridge'")" != 1 ]]; then
    "${psql[@]}" -c 'create database trialbridge' >/dev/null || die "could not create database trialbridge"
    log "created database trialbridge"
  fi
}

stop_postgres_only() { # DIR [quiet]
  local dir=$1 bin data pid
  data="$(pg_datadir "$dir")"
  pid="$(read_pid "$data/postmaster.pid")"
  pid_alive "$pid" || return 0
  [[ "${2:-}" == quiet ]] || log "stopping postgres (pid $pid)"
  bin="$(pg_bindir)"
  if [[ -n "$bin" ]]; then
    as_pg "$bin/pg_ctl" stop -D "$data" -m fast -w -t "$TIMEOUT" -s >/dev/null 2>&1 || true
  fi
  # Fallback if pg_ctl could not do it (SIGINT = fast shutdown).
  if pid_alive "$pid"; then kill -INT "$pid" 2>/dev/null || true; wait_gone "$pid" postgres; fi
}

stop_postgres() {
  local dir=$1 data
  stop_postgres_only "$dir"
  data="$(pg_datadir "$dir")"
  # A data dir kept outside DIR (see prepare_pgdata) is ours to remove.
  if [[ -s "$dir/pgdata.path" && "$data" != "$dir/pg" ]]; then
    rm -rf "$(dirname "$data")"
    rm -f "$dir/pgdata.path"
  fi
}

# --------------------------------------------------------------- watchdog ---

start_watchdog() {
  local dir=$1 owner=${TRIALBRIDGE_SERVICES_OWNER_PID:-}
  [[ -n "$owner" ]] || return 0
  pid_alive "$owner" || die "TRIALBRIDGE_SERVICES_OWNER_PID=$owner is not a running process"
  echo "$owner" >"$dir/owner.pid"
  # Runs until `stop` removes owner.pid, or stops the servers when the owner dies.
  (
    trap '' INT
    while [[ -f "$dir/owner.pid" ]]; do
      if ! kill -0 "$owner" 2>/dev/null; then
        echo "owner $owner gone; stopping services" >&2
        TRIALBRIDGE_SERVICES_OWNER_PID='' bash "$SELF" stop "$dir" || true
        if [[ "${TRIALBRIDGE_SERVICES_REMOVE_DIR:-}" == 1 ]]; then rm -rf "$dir"; fi
        break
      fi
      sleep 1
    done
  ) </dev/null >>"$dir/watchdog.log" 2>&1 &
  disown 2>/dev/null || true
}

# ------------------------------------------------------------------- main ---

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }

cmd="${1:-}"; dir_arg="${2:-}"
[[ -n "$cmd" && -n "$dir_arg" ]] || usage

case "$cmd" in
  start)
    t0=$SECONDS
    mkdir -p "$dir_arg"
    DIR="$(cd "$dir_arg" && pwd -P)"
    rm -f "$DIR/env"
    ensure_installed
    # On any failure below, do not leave half of the pair running.
    trap 'rc=$?; if ((rc)); then stop_redis "$DIR" || true; stop_postgres_only "$DIR" quiet || true; fi' EXIT
    start_redis "$DIR"
    start_postgres "$DIR"
    create_database "$DIR"
    start_watchdog "$DIR"
    tmp="$DIR/env.tmp.$$"
    {
      echo "export REDIS_URL=redis://127.0.0.1:$(cat "$DIR/redis.port")"
      echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$(cat "$DIR/pg.port")/trialbridge"
    } >"$tmp"
    mv -f "$tmp" "$DIR/env"
    trap - EXIT
    log "services up in $((SECONDS - t0))s; env in $DIR/env"
    ;;
  stop)
    [[ -d "$dir_arg" ]] || { log "nothing to stop: $dir_arg does not exist"; exit 0; }
    DIR="$(cd "$dir_arg" && pwd -P)"
    rm -f "$DIR/owner.pid" "$DIR/env"
    stop_redis "$DIR"
    stop_postgres "$DIR"
    log "services in $DIR stopped"
    ;;
  status)
    [[ -d "$dir_arg" ]] || exit 1
    DIR="$(cd "$dir_arg" && pwd -P)"
    redis_up "$DIR" && pg_up "$DIR"
    ;;
  *) usage ;;
esac
