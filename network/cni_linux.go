package network

import gocni "github.com/containerd/go-cni"

// cniLoadOpts are the networks each pod joins: loopback (brought up by the
// loopback plugin, as containerd does) and the conf dir's default network.
var cniLoadOpts = []gocni.Opt{gocni.WithLoNetwork, gocni.WithDefaultConf}
