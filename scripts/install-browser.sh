#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the page tests (tests/browser_pages.rs),
# unless they are already there. Browsers that download themselves do not work offline.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
