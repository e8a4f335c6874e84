#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed for the browser tests
# (tests/browser/) and `make screenshots`. Idempotent: does nothing when both are there.
# Browsers downloaded by test tools (`playwright install`) do not run on this machine;
# Debian's packages do. Needs root (or sudo) the first time.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") already installed"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM or $CHROMEDRIVER is missing and this user cannot install packages." >&2
    echo "ensure_chromium: as root run: apt-get update && apt-get install -y chromium chromium-driver" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no apt-get here; install Chromium and ChromeDriver so that $CHROMIUM and $CHROMEDRIVER exist" >&2
    exit 1
fi

echo "ensure_chromium: installing Debian's chromium and chromium-driver (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -qq; then
    echo "ensure_chromium: apt-get update failed (no network to the Debian mirror?)" >&2
    exit 1
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; then
    echo "ensure_chromium: apt-get install chromium chromium-driver failed" >&2
    exit 1
fi
if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
    echo "ensure_chromium: installed, but $CHROMIUM or $CHROMEDRIVER is still missing" >&2
    exit 1
fi
echo "ensure_chromium: installed $("$CHROMIUM" --version 2>/dev/null)"
