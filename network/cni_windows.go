package network

import gocni "github.com/containerd/go-cni"

// cniLoadOpts: on Windows a pod joins the default network only. There is no
// loopback CNI plugin for Windows (HCN gives every namespace its loopback);
// asking for one would fail every pod's ADD and DEL, and containerd on
// Windows loads the default config alone, with a minimum of one network.
var cniLoadOpts = []gocni.Opt{gocni.WithDefaultConf}
