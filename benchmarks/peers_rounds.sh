#!/bin/bash
# Interleaved rounds of the shared cross-framework benchmark: ours, then PyTorch, N times, so
# that a noisy machine affects both sides alike. Prints "framework round workload median_ms".
#   bash benchmarks/peers_rounds.sh REGEX [N] [TORCH_PYTHON]
# REGEX selects workloads (peers.py --only); TORCH_PYTHON is a Python with torch installed
# (default: python3). PEERS points at peers.py (default: ../shared/bench/peers.py).
W="$1"; N=${2:-3}; TPY=${3:-python3}
PEERS=${PEERS:-../shared/bench/peers.py}
for i in $(seq "$N"); do
  python3 "$PEERS" --fw mlx --only "$W" 2>&1 | grep -v "^#" | awk -v r="$i" '{print "mlx", r, $1, $2}'
  "$TPY" "$PEERS" --fw torch --only "$W" 2>&1 | grep -v "^#" | grep -v NA | awk -v r="$i" '{print "torch", r, $1, $2}'
done
