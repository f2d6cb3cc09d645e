#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis that the tests use are up, starting them the way
# this machine kind starts them when they are installed but stopped. Prints what it finds;
# never fails the run by itself (the tests decide: skip locally, fail under CI=true).
set -u
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
fi
pg_isready -h 127.0.0.1 -p 5432 2>/dev/null || echo "PostgreSQL: not available"
redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || echo "Redis: not available"
exit 0
