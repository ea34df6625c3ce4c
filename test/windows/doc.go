// Package windowse2e runs Windows pods end to end under Wine: the real
// wincri.exe serving its named pipe, the real containerd-shim-runhcs-v1.exe
// and the real win-bridge and host-local CNI plugins, against the emulated
// HCS and HCN of test/hcsemu. hack/windows-e2e.sh builds the pieces and
// runs it; without them (WINCRI_WINDOWS_E2E unset) the test skips.
package windowse2e
