#!/usr/bin/env bash
# The PostgreSQL and Redis servers that the topology tests (and the PostgreSQL and Redis
# passes of `make test`) talk to: 127.0.0.1:5432 (trust auth) and 127.0.0.1:6379.
#
#   scripts/services.sh check            exit 0 if both answer (prints which do not)
#   scripts/services.sh check-postgres   exit 0 if PostgreSQL answers
#   scripts/services.sh check-redis      exit 0 if Redis answers
#   scripts/services.sh ensure           start whichever is down (as this machine's image
#                                        starts them), wait until both answer, or fail loudly
set -uo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_SECONDS=${SERVICES_WAIT_SECONDS:-60}

port_open() {  # host port: something accepts TCP connections there
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

postgres_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

redis_ready() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    port_open "$REDIS_HOST" "$REDIS_PORT"
  fi
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    echo "services: cannot start PostgreSQL: pg_ctlcluster or /etc/postgresql is missing" >&2
    return 1
  fi
  echo "services: starting PostgreSQL"
  # shellcheck disable=SC2046 — one cluster version directory on this machine
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "services: cannot start Redis: redis-server is not installed" >&2
    return 1
  fi
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

wait_for() {  # name check-function
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$2"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "services: ERROR: $1 is not answering after ${WAIT_SECONDS} s" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "services: $1 is up"
}

case "${1:-check}" in
  check-postgres) postgres_ready ;;
  check-redis) redis_ready ;;
  check)
    status=0
    postgres_ready || { echo "services: PostgreSQL is not answering on $PG_HOST:$PG_PORT"; status=1; }
    redis_ready || { echo "services: Redis is not answering on $REDIS_HOST:$REDIS_PORT"; status=1; }
    exit $status
    ;;
  ensure)
    status=0
    postgres_ready || start_postgres || status=1
    redis_ready || start_redis || status=1
    wait_for "PostgreSQL ($PG_HOST:$PG_PORT)" postgres_ready || status=1
    wait_for "Redis ($REDIS_HOST:$REDIS_PORT)" redis_ready || status=1
    if [ $status -ne 0 ]; then
      echo "services: ERROR: PostgreSQL and Redis are required here (CI=${CI:-}); see the messages above." >&2
    fi
    exit $status
    ;;
  *)
    echo "usage: $0 check|check-postgres|check-redis|ensure" >&2
    exit 2
    ;;
esac
