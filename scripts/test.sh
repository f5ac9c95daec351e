#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 machine (as root: apt packages,
# a virtual environment in .venv), then runs lint, types and the whole test suite.
# The integration tests start their own real servers (sshd, Dovecot, Postfix, INN).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
