#!/usr/bin/env bash
# Everything the test suite needs, then the suite. CI runs this (via .ci/run); so can you.
set -euo pipefail
cd "$(dirname "$0")/.."
# Formatting is part of the check (rustfmt.toml).
cargo fmt --check
# The streaming tests start and stop their own Kafka-compatible broker (tansu) on 127.0.0.1 with
# scripts/kafka-up.sh; install it if this machine lacks it (about 10 minutes, once).
KAFKA_UP_INSTALL_ONLY=1 scripts/kafka-up.sh
# The benches are not run here (they take minutes), but they must keep compiling.
cargo build --release --locked --benches
cargo test --release --locked
