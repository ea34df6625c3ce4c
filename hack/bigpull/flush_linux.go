package main

import "syscall"

// flushDisks writes dirty pages out, so that one measurement does not pay
// for the writeback of the one before.
func flushDisks() { syscall.Sync() }
