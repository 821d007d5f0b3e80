#!/usr/bin/env bash
# itvd check on a generated production-size set (300 playbooks, 800 hosts).
exec python3 "$(dirname "$0")/../bench/check_bench.py"
