# Interleaved rounds (make bench): the harness bench.sh outputs of
# containerd and wincri in run order, containerd first in each round
# (c1 w1 c2 w2 ...). Per CRI call: each round's p50 ratio wincri/containerd,
# then their median, best and worst round and spread, and whether the
# target holds in the median and the worst round (latency: median <= 1.0
# and worst <= 1.2; throughput: median >= 1.0 and worst >= 1/1.2).
FNR == 1 { file++; round = int((file + 1) / 2); side = (file % 2) ? "c" : "w"; rounds = round }
/\(par=[0-9]+\)/ && NF >= 10 {
  op = $3
  if (!(op in seen)) { seen[op] = 1; order[++n] = op }
  p50[side, round, op] = $7
}
/throughput=/ {
  split($0, a, "throughput="); split(a[2], b, " "); name = "throughput:" $1
  if (!(name in tseen)) { tseen[name] = 1; torder[++tn] = name }
  p50[side, round, name] = b[1]
}
function sortn(arr, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t } }
function row(op, higherBetter,   r, k, v, med, worst, best, ok) {
  k = 0
  for (r = 1; r <= rounds; r++) if (p50["c", r, op] > 0 && p50["w", r, op] != "") v[++k] = p50["w", r, op] / p50["c", r, op]
  if (k == 0) { printf "%-46s %s\n", op, "-"; return }
  sortn(v, k)
  med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  if (higherBetter) { worst = v[1]; best = v[k]; ok = (med >= 1.0 && worst >= 1 / 1.2) }
  else { worst = v[k]; best = v[1]; ok = (med <= 1.0 && worst <= 1.2) }
  printf "%-46s %6d %8.2f %8.2f %8.2f %8.2f  %s\n", op, k, med, best, worst, v[k] - v[1], ok ? "met" : "NOT met"
  if (!ok) missed++
}
END {
  printf "%-46s %6s %8s %8s %8s %8s  %s\n", "p50 ratio wincri/containerd", "rounds", "median", "best", "worst", "spread", "target"
  for (i = 1; i <= n; i++) row(order[i], 0)
  for (i = 1; i <= tn; i++) row(torder[i], 1)
  printf "targets missed: %d\n", missed
}
