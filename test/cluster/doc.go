// Package cluster runs a single-machine Kubernetes cluster whose node runs on
// wincri (hack/cluster.sh: etcd, the API server, controller manager,
// scheduler, kube-proxy, metrics-server and the kubelet, all built unmodified
// from the module proxy) and checks what a cluster does with its node. It
// runs only with WINCRI_CLUSTER=1 (make test-cluster): bringing the cluster
// up takes a minute and its builds are cached by make deps.
package cluster
