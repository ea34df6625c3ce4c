# Joins two harness bench.sh outputs (containerd first, wincri second) into
# one table: per CRI call p50 and p99 for each, and wincri/containerd.
FNR == 1 { run++ }
/\(par=[0-9]+\)/ && NF >= 10 {
  op = $3; p50 = $7; p99 = $9
  if (!(op in seen)) { seen[op] = 1; order[++n] = op }
  if (run == 1) { c50[op] = p50; c99[op] = p99 } else { w50[op] = p50; w99[op] = p99 }
}
/throughput=/ { split($0, a, "throughput="); split(a[2], b, " "); name = $1; if (run == 1) ct[name] = b[1]; else wt[name] = b[1] }
/^create PodSandbox and container/ { split($0, f, "|"); gsub(/ /, "", f[3]); if (run == 1) cs = f[3]; else ws = f[3] }
function ratio(w, c) { return (c > 0 && w != "") ? sprintf("%.2f", w / c) : "-" }
END {
  printf "%-18s %12s %12s %7s %12s %12s %7s\n", "CRI call", "ctrd p50 ms", "wincri p50", "ratio", "ctrd p99 ms", "wincri p99", "ratio"
  for (i = 1; i <= n; i++) {
    op = order[i]
    printf "%-18s %12s %12s %7s %12s %12s %7s\n", op, c50[op], w50[op], ratio(w50[op], c50[op]), c99[op], w99[op], ratio(w99[op], c99[op])
  }
  for (k in ct) printf "throughput %-32s containerd %8s/s  wincri %8s/s  ratio %s\n", k, ct[k], wt[k], ratio(wt[k], ct[k])
  printf "container from scratch (RunPodSandbox+Create+Start+Stop+Remove): containerd %s, wincri %s\n", cs, ws
}
