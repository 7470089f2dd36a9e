#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright; no
# browser is downloaded by a test tool. Install it when it is missing and we are root
# (CI and the developers' machines are); otherwise say why the browser tests will skip.
set -uo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium is not installed and this is not a root Debian shell;" \
       "install the Debian package 'chromium' to run the browser tests." >&2
  exit 0
fi
echo "ensure-chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
  echo "ensure-chromium: $(chromium --version 2>/dev/null || echo installed)"
  exit 0
fi
echo "ensure-chromium: ERROR: apt-get install chromium failed" >&2
# Under CI the browser tests must run, so a failed install is a failed run.
[ "${CI:-}" = "true" ] && exit 1
exit 0
