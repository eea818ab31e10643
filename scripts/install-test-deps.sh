#!/usr/bin/env bash
# Installs what the tests need beyond the Python packages: a C compiler for the reader's
# fast path (protocol/_fastpath.c, built into the venv), Debian's chromium and
# redis-server, and the npm `eventsource` package. Idempotent and quiet: does nothing when
# all are present.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "install-test-deps: need root or sudo to run: $*" >&2
        return 1
    fi
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    out="$(mktemp)"
    # Quiet on success; the whole apt output when something goes wrong.
    if ! { as_root apt-get update -qq && as_root apt-get install -y -qq "$@"; } >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"
}

python="$root/.venv/bin/python"
if [ -x "$python" ] && ! "$python" -c "import protocol._fastpath" 2>/dev/null; then
    has_headers='import os, sysconfig; p = sysconfig.get_paths()["include"]; exit(not os.path.exists(p + "/Python.h"))'
    if ! command -v cc >/dev/null 2>&1 || ! "$python" -c "$has_headers"; then
        echo "install-test-deps: installing a C compiler and Python's headers (apt)" >&2
        apt_install gcc libc6-dev python3-dev
    fi
    echo "install-test-deps: building the reader's C fast path" >&2
    out="$(mktemp)"
    if ! (cd "$root" && "$python" -m pip install --quiet --no-deps -e .) >"$out" 2>&1 \
        || ! "$python" -c "import protocol._fastpath"; then
        cat "$out" >&2
        rm -f "$out"
        echo "install-test-deps: the C fast path did not build" >&2
        exit 1
    fi
    rm -f "$out"
fi

have_chromium() {
    [ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ]
}

if ! have_chromium; then
    echo "install-test-deps: installing chromium (apt)" >&2
    export DEBIAN_FRONTEND=noninteractive
    out="$(mktemp)"
    # Quiet on success; the whole apt output when something goes wrong.
    if ! { as_root apt-get update -qq && as_root apt-get install -y -qq chromium; } >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"
fi

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    echo "install-test-deps: installing redis-server (apt)" >&2
    export DEBIAN_FRONTEND=noninteractive
    out="$(mktemp)"
    if ! { as_root apt-get update -qq && as_root apt-get install -y -qq redis-server; } >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"
fi

clients="$root/tests/clients"
if [ ! -d "$clients/node_modules/eventsource" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-test-deps: installing nodejs and npm (apt)" >&2
        as_root apt-get update -qq >/dev/null
        as_root apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "install-test-deps: installing the npm eventsource package" >&2
    (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
