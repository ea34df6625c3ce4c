// Command containerd-wincri is containerd (the version wincri's go.mod pins)
// with wincri's CRI service built in as the plugin io.containerd.grpc.v1.wincri
// in place of containerd's own CRI: build it with the no_cri tag
// (make containerd-wincri).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/cmd/containerd/command"

	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
	_ "github.com/wincri/wincri/plugin"
)

func main() {
	if err := command.App().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "containerd: %s\n", err)
		os.Exit(1)
	}
}
