package runtime

import (
	"crypto/sha256"
	"encoding/hex"
)

func eventsAddress(state string) string {
	h := sha256.Sum256([]byte(state))
	return `\\.\pipe\wincri-events-` + hex.EncodeToString(h[:8])
}

func shimSocketDir(string) string { return "" }
