#!/usr/bin/env bash
# Everything the test suite needs, then the suite. CI runs this (via .ci/run); so can you.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --locked
