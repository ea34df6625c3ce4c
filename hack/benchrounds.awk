# Interleaved rounds (make bench): the harness bench.sh outputs of
# containerd and wincri, named containerd-R.txt and wincri-R.txt (R the
# round; the order within a round alternates, so the files' order says
# nothing: the name decides). Per CRI call: each round's p50 ratio
# wincri/containerd, then their median, best and worst round and spread,
# and whether the target holds in the median and the worst round (latency:
# median <= 1.0 and worst <= 1.2; throughput: median >= 1.0 and worst >=
# 1/1.2). A round where either runtime has no figure for a call that the
# other has is a missed target: a runtime that failed cannot meet one.
function side_round(f,   b) {
  b = f; sub(/.*\//, "", b)
  if (b !~ /^(containerd|wincri)-[0-9]+\.txt$/) { printf "benchrounds: %s: not containerd-R.txt or wincri-R.txt\n", f > "/dev/stderr"; bad = 1; exit 2 }
  side = (b ~ /^containerd/) ? "c" : "w"
  sub(/^[a-z]+-/, "", b); sub(/\.txt$/, "", b)
  round = b + 0; if (round > rounds) rounds = round
  present[side, round] = 1
}
FNR == 1 { side_round(FILENAME) }
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
function fig(s, r, op) { return ((s, r, op) in p50) && p50[s, r, op] + 0 > 0 }
function row(op, higherBetter,   r, k, v, med, worst, best, ok, gaps) {
  k = 0; gaps = ""
  for (r = 1; r <= rounds; r++) {
    if (fig("c", r, op) && fig("w", r, op)) v[++k] = p50["w", r, op] / p50["c", r, op]
    else gaps = gaps sprintf(" r%d:%s", r, fig("c", r, op) ? "no wincri figure" : fig("w", r, op) ? "no containerd figure" : "neither")
  }
  if (k == 0) { printf "%-46s %6d %8s %8s %8s %8s  NOT met (%s)\n", op, 0, "-", "-", "-", "-", substr(gaps, 2); missed++; return }
  sortn(v, k)
  med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  if (higherBetter) { worst = v[1]; best = v[k]; ok = (med >= 1.0 && worst >= 1 / 1.2) }
  else { worst = v[k]; best = v[1]; ok = (med <= 1.0 && worst <= 1.2) }
  if (gaps != "") ok = 0
  printf "%-46s %6d %8.2f %8.2f %8.2f %8.2f  %s\n", op, k, med, best, worst, v[k] - v[1], ok ? "met" : ("NOT met" (gaps != "" ? " (" substr(gaps, 2) ")" : ""))
  if (!ok) missed++
}
END {
  if (bad) exit 2
  printf "%-46s %6s %8s %8s %8s %8s  %s\n", "p50 ratio wincri/containerd", "rounds", "median", "best", "worst", "spread", "target"
  for (r = 1; r <= rounds; r++) for (s = 1; s <= 2; s++) {
    sd = (s == 1) ? "c" : "w"
    if (!((sd, r) in present)) { printf "round %d: no %s output\n", r, sd == "c" ? "containerd" : "wincri"; missed++ }
  }
  if (n == 0 && tn == 0) { print "no figures at all"; missed++ }
  for (i = 1; i <= n; i++) row(order[i], 0)
  for (i = 1; i <= tn; i++) row(torder[i], 1)
  printf "targets missed: %d\n", missed
}
