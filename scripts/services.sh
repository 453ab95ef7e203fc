#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis the tests use are running, and nginx is installed
# (127.0.0.1:5432 trust auth, database "test"; 127.0.0.1:6379).  Starts them
# with the machine's own commands if they are down; never touches remote hosts.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_postgres() {
  port_open 5432 && return 0
  echo "PostgreSQL is down; starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 40); do port_open 5432 && return 0; sleep 0.25; done
  echo "PostgreSQL did not start; PostgreSQL tests will fail" >&2
}

ensure_redis() {
  port_open 6379 && return 0
  echo "Redis is down; starting it" >&2
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 40); do port_open 6379 && return 0; sleep 0.25; done
  echo "Redis did not start; Redis tests will fail" >&2
}

ensure_nginx() {
  # The recommended front (deploy/nginx/) is tested against Debian's nginx; it is only run by the tests.
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && return 0
  echo "nginx is missing; installing Debian's nginx-light" >&2
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 \
      || echo "nginx could not be installed; the slow-client tests will fail" >&2
  fi
}

ensure_postgres
ensure_redis
ensure_nginx
