package main

// flushDisks: Windows has no system-wide sync; each run starts as it is.
func flushDisks() {}
