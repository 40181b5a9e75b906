#!/usr/bin/env bash
# The queue-truth table of docs/QUEUE_TRUTH.md: the flat model (fill_prob_base 0.2..0.5) and
# Rigtorp's queue model (n = 1, 2, 3) scored against the exact queue of the synthetic venue,
# under each cancel profile. Usage: scripts/queue_truth_table.sh [WORKDIR] (default: a fresh
# temporary directory); `make queue-truth-table` builds first. Prints the Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/paper_trader}
SEED=${SEED:-11}
DURATION=${DURATION:-2h}
W=${1:-$(mktemp -d)}
mkdir -p "$W"
# The strategy's defaults; adverse_fill_ratio 0 so that every simulated fill is the queue model's.
common=(--set fill_sim.adverse_fill_ratio=0)
sessions=()
for profile in uniform back front; do
  rec="$W/l3-$profile"
  [ -e "$rec" ] || "$BIN" synth --seed "$SEED" --duration "$DURATION" --coins BTC --order-level \
    --cancel-profile "$profile" --out "$rec" >/dev/null
  for p in 0.2 0.3 0.4 0.5; do
    s="$W/$profile-flat-$p"
    [ -e "$s" ] || "$BIN" replay "$rec" "${common[@]}" --set fill_sim.ignore_book_depth=true \
      --set fill_sim.fill_prob_base="$p" --out "$s" >/dev/null 2>&1
    sessions+=("$s")
  done
  for n in 1 2 3; do
    s="$W/$profile-rigtorp-$n"
    [ -e "$s" ] || "$BIN" replay "$rec" "${common[@]}" --set fill_sim.ignore_book_depth=false \
      --set fill_sim.queue_exponent="$n" --out "$s" >/dev/null 2>&1
    sessions+=("$s")
  done
done
echo "Synthetic BTC, seed $SEED, $DURATION per cancel profile; sessions and recordings in $W"
echo
"$BIN" queue-truth "${sessions[@]}" --table
