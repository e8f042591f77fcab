#!/bin/sh
# CI fuzzing: each target for a fixed budget on a fixed seed, so a red run reproduces.
# Exits non-zero on the first failure; the runner prints the reproducer transcript.
# About 3 minutes in all: the budget is checked between batches of examples (a batch
# overruns it by a few seconds at most) and shrinking a failure is capped at 60 s.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY -m fuzz --target parser --seconds 45 --seed 20261128
$PY -m fuzz --target session --seconds 90 --seed 20261128
$PY -m fuzz --target binary --seconds 30 --seed 20261128
# reached only when all three passed (set -e): the plain closing line CI reads
echo "fuzz: 3 passed, 0 failed"
