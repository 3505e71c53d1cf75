#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the page tests (tests/browser_pages.rs),
# and a Japanese font so the screenshots show Japanese text instead of empty boxes, unless
# they are already there. Browsers that download themselves do not work offline.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    && [ -d /usr/share/fonts/opentype/noto ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
chromium --version
chromedriver --version
