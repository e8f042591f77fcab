#!/bin/sh
# CI fuzzing: each target for a fixed number of examples on a fixed seed and the fixed
# clock, so a red run is the same run on every machine (Hypothesis is pinned to one
# version in pyproject.toml's test extras: another version draws other examples).
# Exits non-zero on the first failure; the runner prints the reproducer transcript.
# The first three counts are what the old time budgets (45 s, 90 s, 30 s) reached on
# the shared 2-core build machine; the mbox and login targets (issue 13) add about
# 50 s (measured: 2 min 09 s before, 2 min 49 s after, under load). Shrinking a
# failure is capped at 60 s.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY -m fuzz --target parser --examples 10000 --seed 20261128
$PY -m fuzz --target session --examples 900 --seed 20261128
$PY -m fuzz --target binary --examples 25 --seed 20261128
$PY -m fuzz --target session --backend mbox --examples 200 --seed 20261128
$PY -m fuzz --target binary --backend mbox --examples 10 --seed 20261128
$PY -m fuzz --target login --examples 600 --seed 20261128
passed=7
if [ "$(id -u)" = 0 ]; then
    $PY -m fuzz --target login-binary --examples 5 --seed 20261128
    passed=8
else
    echo "fuzz: login-binary skipped: login mode changes uid, it needs root"
fi
# reached only when all passed (set -e): the plain closing line CI reads
echo "fuzz: $passed passed, 0 failed"
