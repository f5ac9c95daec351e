#!/usr/bin/env bash
# Fuzz every parser family (tests/fuzz) for N inputs each (default 100000); more flags go
# to tests/fuzz/run.py (--family F, --seed S, --findings DIR, --jobs J: J libFuzzer
# processes per family side by side, seeds S, S+1, ...). Prints per family: inputs,
# crashes, inputs over 1 s, broken invariants, elapsed; exits 1 on any finding, with the
# input saved under fuzz-findings/. The recorded run (docs/security.md) is
#   scripts/fuzz.sh 1000000 --seed 1   (at normal priority on an otherwise idle machine:
#   the 1 s limit is wall-clock, so a starved worker reports inputs as slow that are not)
set -euo pipefail
cd "$(dirname "$0")/.."
inputs="${1:-100000}"
shift || true
PYTHONPATH="$PWD:$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec .venv/bin/python -m tests.fuzz.run --inputs "$inputs" "$@"
