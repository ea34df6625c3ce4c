# Joins two "density -serial" outputs (containerd first, wincri second): each
# call's p50 for both and wincri/containerd, and the sum of the three start
# calls' p50s (RunPodSandbox + CreateContainer + StartContainer).
function ms(d) {
  if (d ~ /µs$/) return substr(d, 1, length(d) - 2) / 1000
  if (d ~ /ms$/) return substr(d, 1, length(d) - 2) + 0
  if (d ~ /s$/) return substr(d, 1, length(d) - 1) * 1000
  return d + 0
}
FNR == 1 { run++ }
/^serial: [A-Za-z]+ p50 / {
  op = $2
  if (!(op in seen)) { seen[op] = 1; order[++n] = op }
  if (run == 1) c[op] = ms($4); else w[op] = ms($4)
}
/p50 sum/ { if (run == 1) cs = ms($NF); else ws = ms($NF); mode = $0; sub(/^[^(]*\(/, "", mode); sub(/\):.*/, "", mode) }
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
END {
  printf "kubelet-shaped pods (%s), one after the other:\n", mode
  printf "%-18s %12s %12s %7s\n", "CRI call", "ctrd p50 ms", "wincri p50", "ratio"
  for (i = 1; i <= n; i++) printf "%-18s %12.1f %12.1f %7s\n", order[i], c[order[i]], w[order[i]], ratio(w[order[i]], c[order[i]])
  printf "%-18s %12.1f %12.1f %7s\n", "Run+Create+Start", cs, ws, ratio(ws, cs)
}
