package runtime

import "google.golang.org/protobuf/proto"

// runhcsOptions: the runhcs shim runs Windows containers only.
func runhcsOptions() proto.Message { return nil }
