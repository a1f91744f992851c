#!/usr/bin/env bash
# Installs the real clients that internal/testkit/pgclient drives: psql, Debian's
# python3 with psycopg2, SQLAlchemy 1.4, psycopg 3, asyncpg, greenlet and pandas, pgcli, node and npm, a JDK with Debian's
# pgjdbc, then the locked node-postgres modules into testdata/node. Idempotent
# and non-interactive; installing Debian packages needs root on Debian or
# Ubuntu. CI calls it before the tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# Each capability is checked by what the runners use, not by package name: a
# node from another repository (which bundles npm) must not be replaced.
missing=()
[ -x /usr/bin/psql ] || missing+=(postgresql-client)
/usr/bin/python3 -c 'import psycopg2' >/dev/null 2>&1 || missing+=(python3-psycopg2)
/usr/bin/python3 -c 'import sqlalchemy' >/dev/null 2>&1 || missing+=(python3-sqlalchemy)
/usr/bin/python3 -c 'import psycopg' >/dev/null 2>&1 || missing+=(python3-psycopg)
/usr/bin/python3 -c 'import asyncpg' >/dev/null 2>&1 || missing+=(python3-asyncpg)
/usr/bin/python3 -c 'import greenlet' >/dev/null 2>&1 || missing+=(python3-greenlet)
/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || missing+=(python3-pandas)
command -v pgcli >/dev/null 2>&1 || missing+=(pgcli)
# The README's examples (run by cmd/allsource's README test) use curl.
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# RunJDBC launches Check.java as source, which needs the compiler (a JDK, not
# a JRE); any JDK 11 or later on PATH will do.
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "pgclient/install.sh: must run as root to install: ${missing[*]}" >&2
		exit 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "pgclient/install.sh: apt-get not found; install by hand: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "pgclient/install.sh: psql, psycopg2, SQLAlchemy, psycopg 3, asyncpg, greenlet, pandas, pgcli, node, npm, a JDK and pgjdbc already installed"
fi

# npm ls fails when a dependency is missing or does not match package.json.
cd "$here/testdata/node"
if npm ls --depth=0 >/dev/null 2>&1; then
	echo "pgclient/install.sh: node modules already installed: $(npm ls --depth=0 --parseable 2>/dev/null | tail -n +2 | xargs -n1 basename | tr '\n' ' ')"
else
	npm ci --no-audit --no-fund
fi

/usr/bin/python3 -c 'import sqlalchemy; v = sqlalchemy.__version__; v.startswith("1.4") or print("pgclient/install.sh: warning: SQLAlchemy " + v + " is not the 1.4 the checks were written for")'
echo "pgclient/install.sh: $(psql --version); node $(node --version); $(/usr/bin/python3 -c 'import psycopg2, sqlalchemy; print("psycopg2", psycopg2.__version__.split()[0], "SQLAlchemy", sqlalchemy.__version__)')"
echo "pgclient/install.sh: $(javac -version 2>&1); $(java -jar /usr/share/java/postgresql.jar 2>&1 | grep -m1 'JDBC Driver')"
