package runtime

import "google.golang.org/protobuf/proto"

// runhcsOptions is filled in with hcsshim's options type by the Windows work.
func runhcsOptions() proto.Message { return nil }
