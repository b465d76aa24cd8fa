#!/usr/bin/env bash
# Rewrites the screenshots in docs/ with headless Chromium (/usr/bin/chromium): the HTML report
# (docs/report-screenshot.png) and the overview page at desktop and phone width
# (docs/overview-screenshot.png, docs/overview-phone-screenshot.png). The pages are rendered from
# the fake 7-day period of tests/report/fake_period.h, so the pictures do not depend on the clock.
# Needs a build (scripts/build.sh) in ./build or $OBSMON_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${OBSMON_BUILD_DIR:-build}
test_bin="$BUILD_DIR/tests/integration/report_html_chromium_test"
cmake --build "$BUILD_DIR" --target report_html_chromium_test -j1
OBSMON_SCREENSHOT_OUT="$PWD/docs/report-screenshot.png" "$test_bin" --gtest_filter='*.Screenshot'
OBSMON_SCREENSHOT_DIR="$PWD/docs" "$test_bin" --gtest_filter='*.OverviewScreenshots'
ls -l docs/*screenshot*.png
