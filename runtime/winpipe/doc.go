// Package winpipe listens on and dials Windows named pipes through
// go-winio, working around a Wine quirk so that the same binaries run on
// Windows and under Wine (the Windows end-to-end test).
package winpipe
