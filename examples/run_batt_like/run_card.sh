#!/bin/bash
# Run the example as run_card.sh runs run_batt.py: under `timeout -k 5s`, unbuffered, its
# standard output through tee into NAME_run.log. The real script leaves standard error on the
# terminal; here it is kept in NAME_run.err, for the report to read too.
#
#   run_card.sh [-t TIMEOUT] [-T BATT_TIMEOUT] [-s] NAME
#     -t  per-call timeout of a sample (run_batt's -t), default 0.5
#     -T  the whole run's timeout in seconds (run_card.sh's BATT_TIMEOUT), default 600
#     -s  the guard's lines to standard error (NAME_run.err) instead of NAME_run.log
set -u
TIMEOUT=0.5
BATT_TIMEOUT=600
GUARD_STREAM=stdout
while getopts "t:T:s" opt; do
  case $opt in
    t) TIMEOUT="$OPTARG" ;;
    T) BATT_TIMEOUT="$OPTARG" ;;
    s) GUARD_STREAM=stderr ;;
    *) echo "usage: $0 [-t TIMEOUT] [-T BATT_TIMEOUT] [-s] NAME" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
NAME=${1:?usage: $0 [-t TIMEOUT] [-T BATT_TIMEOUT] [-s] NAME}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

timeout -v -k 5s "${BATT_TIMEOUT}s" "$PYTHON" -u "$HERE/run_batt.py" -t "$TIMEOUT" \
    --guard-stream "$GUARD_STREAM" 2> "${NAME}_run.err" | tee "${NAME}_run.log"
echo "exit=${PIPESTATUS[0]}"
