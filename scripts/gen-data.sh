#!/usr/bin/env bash
# Generates one city district's volunteer data set (issue 6, DESIGN §1 and §8): a thin
# wrapper of `volunteerd gen-data`, kept for whoever still calls this script.  The generator
# lives in the binary (server/gendata.c; its SQL in sql/gen/); see `volunteerd --help` and
# the README.
#
#   scripts/gen-data.sh [--scale N] [--seed S] [--months M] [--end-month YYYY-MM]
#                       [--via-triggers] [--verify] [--database-url URL]
#
# The arguments go to the binary unchanged; the binary is VOLUNTEERD_BIN, default
# build/volunteerd.  DATABASE_URL (or --database-url) names the database.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${VOLUNTEERD_BIN:-$ROOT/build/volunteerd}
[ -x "$BIN" ] || { echo "gen-data: $BIN is missing (run make)" >&2; exit 1; }
exec "$BIN" gen-data "$@"
