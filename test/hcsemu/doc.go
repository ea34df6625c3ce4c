// Package hcsemu emulates the two Windows services wincri's Windows path
// needs and Wine lacks: the Host Compute Service (computecore.dll and the
// layer functions of vmcompute.dll) and the Host Compute Network service
// (computenetwork.dll, HNSCall). The DLLs in dll/ are built with mingw and
// loaded by Wine in place of the real ones; each export forwards its
// arguments to a Server, which holds the state of every compute system,
// process, layer and network object, checks the documents it is given as
// HCS and HCN do, runs container processes as ordinary Wine processes, and
// records every call for tests to assert on. The Server runs inside a
// Windows test binary under Wine (see test/windows and docs/windows.md).
package hcsemu
