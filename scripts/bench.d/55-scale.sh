#!/usr/bin/env bash
# Operator commands at the seed's scale (300 procedures, 800 hosts: host list, rollout show of an 800-host
# rollout, audit with 10,000 records, release list; itvctl beside curl, itvd's RSS), and at ten times it
# (3,000 procedures, 8,000 hosts: itvd check, RSS, host list --procedure).
exec python3 "$(dirname "$0")/../bench/scale_bench.py"
