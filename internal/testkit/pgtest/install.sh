#!/usr/bin/env bash
# Installs the PostgreSQL server binaries that internal/testkit/pgtest starts for tests
# and benchmarks. Idempotent and non-interactive; must run as root on a Debian
# or Ubuntu machine. CI calls it before the tests.
set -euo pipefail

have_postgres() {
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
		compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null &&
		id -u postgres >/dev/null 2>&1
}

if have_postgres; then
	echo "pgtest/install.sh: PostgreSQL already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "pgtest/install.sh: must run as root to install PostgreSQL" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "pgtest/install.sh: apt-get not found; install PostgreSQL server binaries by hand" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y postgresql postgresql-client

# The Debian package creates and may start a default cluster; pgtest makes its
# own throwaway servers, so stop any cluster this install started.
if command -v pg_lsclusters >/dev/null 2>&1; then
	pg_lsclusters --no-header 2>/dev/null | while read -r ver name _port status _rest; do
		if [ "$status" = online ]; then
			pg_ctlcluster "$ver" "$name" stop || true
		fi
	done
fi

if ! have_postgres; then
	echo "pgtest/install.sh: PostgreSQL installed but initdb/postgres or the postgres user is missing" >&2
	exit 1
fi
echo "pgtest/install.sh: installed PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
