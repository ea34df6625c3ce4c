// Package cosesign1 is a compile-only stand-in for
// github.com/Microsoft/cosesign1go, which the Go module proxy refuses to
// serve. hcsshim uses it only in the confidential-container security
// policy code (COSE_Sign1 policy fragments), which a process-isolated or
// Hyper-V Windows pod never reaches; every function here fails.
package cosesign1

import (
	"crypto"
	"errors"
)

var errUnavailable = errors.New("cosesign1go is not part of this build: COSE policy fragments are unsupported")

// COSE_Header_CWTClaims is the CWT claims header label (RFC 9597).
const COSE_Header_CWTClaims = 15

// UnpackedCoseSign1 is an unpacked COSE_Sign1 document.
type UnpackedCoseSign1 struct {
	Protected   map[any]any
	Payload     []byte
	Issuer      string
	Feed        string
	ContentType string
	ChainPem    string
	Receipts    []ParsedCOSEReceipt
}

// UnpackAndValidateCOSE1CertChain always fails in this build.
func UnpackAndValidateCOSE1CertChain([]byte) (*UnpackedCoseSign1, error) {
	return nil, errUnavailable
}

// ParsedCOSEReceipt is a transparency receipt.
type ParsedCOSEReceipt struct {
	Issuer string
	Kid    string
}

// Validate always fails in this build.
func (ParsedCOSEReceipt) Validate(map[string]crypto.PublicKey) error { return errUnavailable }

// ParseTTLPayload (a transparency trust list: ledger -> key id -> key)
// always fails in this build.
func ParseTTLPayload([]byte) (map[string]map[string]crypto.PublicKey, error) {
	return nil, errUnavailable
}
