#!/usr/bin/env bash
# Builds and installs the pgvector extension (vendor/pgvector-0.8.1.tar.gz) for the local PostgreSQL
# server, so the `vector` features run in tests. Idempotent: quick when this version is installed.
# Needs root for apt-get and `make install` (as in CI). Usage: scripts/pgvector.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=0.8.1
tarball=vendor/pgvector-$version.tar.gz
sha256=5254da7ab5ec6192ac5bc37569294f504ad82ae7a111513ab8a8da8479963bee

pg_major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_config=/usr/lib/postgresql/$pg_major/bin/pg_config
if [[ -x $pg_config ]]; then
  sharedir=$("$pg_config" --sharedir)
  if [[ -f $sharedir/extension/vector--$version.sql ]]; then
    echo "pgvector $version already installed for PostgreSQL $pg_major"
    exit 0
  fi
fi

echo "$sha256  $tarball" | sha256sum -c --quiet -

if ! command -v make >/dev/null || ! command -v gcc >/dev/null || [[ ! -x $pg_config ]] \
  || [[ ! -d $("$pg_config" --includedir-server 2>/dev/null || echo /nonexistent) ]]; then
  echo "installing postgresql-server-dev-$pg_major and build-essential"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "postgresql-server-dev-$pg_major" build-essential
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tarball" -C "$tmp"
make -s -C "$tmp/pgvector-$version" PG_CONFIG="$pg_config" OPTFLAGS="" with_llvm=no
make -s -C "$tmp/pgvector-$version" PG_CONFIG="$pg_config" with_llvm=no install
echo "pgvector $version installed for PostgreSQL $pg_major"
