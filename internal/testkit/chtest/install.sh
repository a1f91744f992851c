#!/usr/bin/env bash
# Installs the ClickHouse server that internal/testkit/chtest starts for tests and
# benchmarks (Debian's clickhouse-server and clickhouse-client, 18.16 on
# Debian 12). Idempotent and non-interactive; must run as root on a Debian or
# Ubuntu machine. CI calls it before the tests.
set -euo pipefail

have_clickhouse() {
	[ -x /usr/sbin/clickhouse-server ] && id -u clickhouse >/dev/null 2>&1
}

if have_clickhouse; then
	echo "chtest/install.sh: ClickHouse already installed: $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null || echo unknown)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "chtest/install.sh: must run as root to install ClickHouse" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "chtest/install.sh: apt-get not found; install clickhouse-server by hand" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y clickhouse-server clickhouse-client; then
	apt-get update
	apt-get install -y clickhouse-server clickhouse-client
fi

# The package may start its own service on the default ports; chtest makes
# its own throwaway servers, so stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet clickhouse-server 2>/dev/null; then
	systemctl stop clickhouse-server || true
elif command -v service >/dev/null 2>&1; then
	service clickhouse-server stop >/dev/null 2>&1 || true
fi

if ! have_clickhouse; then
	echo "chtest/install.sh: ClickHouse installed but /usr/sbin/clickhouse-server or the clickhouse user is missing" >&2
	exit 1
fi
echo "chtest/install.sh: installed ClickHouse $(dpkg-query -W -f='${Version}' clickhouse-server)"
