#!/usr/bin/env bash
# What the browser checks in tests/test_browser.py need, from package registries only:
# Chromium and a colour emoji font (the pull-request report's chart legends are coloured squares) from the
# system's package manager (Debian/Ubuntu apt), and Mermaid's browser build from npm into the virtual environment. `make browser` runs this; CI does so before `make test`.
set -euo pipefail
MERMAID_VERSION=11.17.2
VENV=${VENV:-.venv}
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "color emoji" || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
target="$VENV/share/mermaid/mermaid.min.js"
if [ ! -f "$target" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "mermaid@${MERMAID_VERSION}" >/dev/null && tar xzf mermaid-*.tgz package/dist/mermaid.min.js)
    mkdir -p "$(dirname "$target")"
    mv "$tmp/package/dist/mermaid.min.js" "$target"
    rm -rf "$tmp"
fi
echo "browser checks: $(command -v chromium || command -v chromium-browser), $target"
