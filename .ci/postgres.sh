#!/usr/bin/env bash
# Starts a local PostgreSQL 15 for the tests and creates the latch role and database. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pg_ctlcluster 15 main start 2>/dev/null || pg_ctlcluster 15 main status >/dev/null
for i in $(seq 1 30); do
  su postgres -c "pg_isready -q -h 127.0.0.1" && break
  sleep 1
done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='latch'\"" | grep -q 1 ||
  su postgres -c "psql -q -c \"CREATE ROLE latch LOGIN SUPERUSER PASSWORD 'latch'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='latch_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O latch latch_test"
