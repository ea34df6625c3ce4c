# Two concurrent pulls of one large image (hack/bigpull), per interleaved
# round: files bigpull-containerd-R.txt and bigpull-wincri-R.txt (the name
# decides the runtime and the round, not the order), each holding the runs
# of that round; the fastest counts. Prints each round's times and the
# speedup containerd/wincri, their median and worst round, and whether
# wincri finished at least 1.5x sooner in both, with the snapshots created
# and the CPU time each daemon used in its fastest run (bigpull
# -daemon-pid). A run that failed (e.g. a layer unpacked twice) is printed
# and fails the target; so does a round without a figure of either runtime.
# The kernel's part of that CPU (bigpull's "system") is its own column: it
# is what varied most between runs of one daemon (docs/performance.md).
FNR == 1 {
  b = FILENAME; sub(/.*\//, "", b)
  if (b !~ /^bigpull-(containerd|wincri)-[0-9]+\.txt$/) { printf "bigpullrounds: %s: not bigpull-containerd-R.txt or bigpull-wincri-R.txt\n", FILENAME > "/dev/stderr"; bad = 1; exit 2 }
  side = (b ~ /^bigpull-containerd/) ? "c" : "w"
  sub(/^bigpull-[a-z]+-/, "", b); sub(/\.txt$/, "", b); round = b + 0; if (round > rounds) rounds = round
}
/^bigpull: [0-9]+ concurrent pulls/ {
  t = $0; sub(/.*total /, "", t); sub(/ s .*/, "", t)
  c = "-"; if ($0 ~ /daemon CPU/) { c = $0; sub(/.*daemon CPU /, "", c); sub(/ s.*/, "", c) }
  k = "-"; if ($0 ~ /daemon CPU [0-9.]+ s \(user [0-9.]+, system [0-9.]+\)/) { k = $0; sub(/.*, system /, "", k); sub(/\).*/, "", k) }
  s = $0; sub(/.*snapshots created /, "", s); sub(/,.*/, "", s)
  if (best[side, round] == "" || t + 0 < best[side, round]) { best[side, round] = t + 0; cpu[side, round] = c; sys[side, round] = k; snaps[side, round] = s }
  if ($0 ~ /layers unpacked/) { u = $0; sub(/.*layers unpacked /, "", u); unpacked[round] = u }
  next
}
/^bigpull:/ { print "bigpull round " round " " (side == "c" ? "containerd" : "wincri") ": " $0; failed++ }
function sortn(arr, k,   i, j, t) { for (i = 2; i <= k; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t } }
END {
  if (bad) exit 2
  printf "two concurrent pulls of one large image, seconds (best of the round's runs):\n"
  printf "%-6s %11s %9s %10s %19s %15s %20s %22s\n", "round", "containerd", "wincri", "speedup", "snapshots (c / w)", "wincri unpacks", "daemon CPU s (c / w)", "of it kernel s (c / w)"
  k = 0; missing = 0
  for (r = 1; r <= rounds; r++) {
    if (best["c", r] > 0 && best["w", r] > 0) v[++k] = best["c", r] / best["w", r]
    else missing++
    printf "%-6d %11s %9s %10s %19s %15s %20s %22s\n", r, best["c", r] == "" ? "-" : best["c", r], best["w", r] == "" ? "-" : best["w", r], (best["c", r] > 0 && best["w", r] > 0) ? sprintf("%.2f", best["c", r] / best["w", r]) : "-", snaps["c", r] " / " snaps["w", r], unpacked[r] == "" ? "-" : unpacked[r], cpu["c", r] " / " cpu["w", r], sys["c", r] " / " sys["w", r]
  }
  if (k == 0) { print "speedup containerd/wincri: no complete round: NOT met"; exit }
  sortn(v, k)
  med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
  ok = (med >= 1.5 && v[1] >= 1.5 && !failed && !missing)
  printf "speedup containerd/wincri: median %.2f, worst round %.2f, best %.2f, rounds without a figure %d: %s (target: >= 1.5 in the median and the worst round, every round measured)\n", med, v[1], v[k], missing, ok ? "met" : "NOT met"
}
