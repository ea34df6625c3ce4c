package main

// flushDisks: Windows has no system-wide sync; each run starts as it is.
func flushDisks() {}

// cpuSeconds: not measured on Windows.
func cpuSeconds(int) (cpuTime, bool) { return cpuTime{}, false }
