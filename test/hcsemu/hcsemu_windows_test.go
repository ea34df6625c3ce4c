package hcsemu

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
	"golang.org/x/sys/windows"
)

// start starts the emulator, or skips when this Wine prefix does not have
// the emulated DLLs (hack/windows-e2e.sh installs them).
func start(t *testing.T) *Server {
	t.Helper()
	if windows.NewLazySystemDLL("computenetwork.dll").Load() != nil {
		t.Skip("the emulated computenetwork.dll is not installed in this Wine prefix (run hack/windows-e2e.sh)")
	}
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	s.Log = func(l string) { t.Log(l) }
	t.Cleanup(s.Close)
	return s
}

// TestHCNThroughHcsshim drives the emulated HCN with hcsshim's own hcn
// package, as wincri and the CNI plugins do.
func TestHCNThroughHcsshim(t *testing.T) {
	s := start(t)
	netID, err := s.AddNetwork(`{"Name":"cbr0","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0}}`)
	if err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("cbr0")
	if err != nil || !strings.EqualFold(network.Id, netID) {
		t.Fatalf("GetNetworkByName: %+v %v", network, err)
	}
	if _, err := hcn.GetNetworkByName("nope"); !hcn.IsNotFoundError(err) {
		t.Fatalf("missing network: %v", err)
	}
	ns, err := (&hcn.HostComputeNamespace{}).Create()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "pod-eth0",
		IpConfigurations: []hcn.IpConfig{{IpAddress: "10.88.0.5", PrefixLength: 24}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := hcn.AddNamespaceEndpoint(ns.Id, ep.Id); err != nil {
		t.Fatal(err)
	}
	ids, err := hcn.GetNamespaceEndpointIds(ns.Id)
	if err != nil || len(ids) != 1 || !strings.EqualFold(ids[0], ep.Id) {
		t.Fatalf("namespace endpoints: %v %v", ids, err)
	}
	if err := hcn.AddNamespaceEndpoint(ns.Id, "7a4b7e2c-0000-4000-8000-000000000000"); err == nil {
		t.Fatal("attaching a missing endpoint succeeded")
	}
	stats, err := hcsshim.GetHNSEndpointStats(ep.Id)
	if err != nil || stats == nil {
		t.Fatalf("endpoint stats: %v", err)
	}
	if err := ep.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := hcn.GetNamespaceByID(ns.Id); !hcn.IsNotFoundError(err) {
		t.Fatalf("deleted namespace: %v", err)
	}
	if got := len(s.HCNObjects("endpoint")) + len(s.HCNObjects("namespace")); got != 0 {
		t.Fatalf("%d objects left", got)
	}
}

// TestHCNEndpointRules: through hcsshim's hcn package, the emulated HCN
// refuses endpoints HNS would not create: an address outside the network's
// subnet or already an endpoint's, a policy type it does not emulate, a port
// mapping without protocol or port, a malformed MAC address.
func TestHCNEndpointRules(t *testing.T) {
	s := start(t)
	if _, err := s.AddNetwork(`{"Name":"rules","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0},
		"Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.89.0.0/16"}]}]}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("rules")
	if err != nil {
		t.Fatal(err)
	}
	ipc := func(ip string) []hcn.IpConfig { return []hcn.IpConfig{{IpAddress: ip, PrefixLength: 16}} }
	first, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "a", IpConfigurations: ipc("10.89.0.2"),
		Policies: []hcn.EndpointPolicy{{Type: hcn.OutBoundNAT, Settings: json.RawMessage(`{"Exceptions":["10.89.0.0/16"]}`)},
			{Type: hcn.PortMapping, Settings: json.RawMessage(`{"Protocol":6,"InternalPort":80,"ExternalPort":8080}`)}}})
	if err != nil {
		t.Fatalf("a valid endpoint: %v", err)
	}
	defer first.Delete()
	for _, c := range []struct {
		name string
		ep   hcn.HostComputeEndpoint
	}{
		{"outside the subnet", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.90.0.2")}},
		{"an address in use", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.2")}},
		{"not an address", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.300")}},
		{"an unknown policy", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.3"),
			Policies: []hcn.EndpointPolicy{{Type: hcn.L4Proxy, Settings: json.RawMessage(`{}`)}}}},
		{"a port mapping without a port", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.3"),
			Policies: []hcn.EndpointPolicy{{Type: hcn.PortMapping, Settings: json.RawMessage(`{"Protocol":6}`)}}}},
		{"a policy's unknown field", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.3"),
			Policies: []hcn.EndpointPolicy{{Type: hcn.OutBoundNAT, Settings: json.RawMessage(`{"Exception":["x"]}`)}}}},
		{"a bad MAC", hcn.HostComputeEndpoint{IpConfigurations: ipc("10.89.0.3"), MacAddress: "00-15-5D"}},
	} {
		ep := c.ep
		if got, err := network.CreateEndpoint(&ep); err == nil {
			got.Delete()
			t.Errorf("%s: created", c.name)
		}
	}
	if got := len(s.HCNObjects("endpoint")); got != 1 {
		t.Errorf("%d endpoints, want the valid one only", got)
	}
	// A remote endpoint (another node's, as kube-proxy makes) may be
	// outside the subnets; hcsshim lists a network's endpoints by the v1
	// name VirtualNetwork.
	remote, err := network.CreateRemoteEndpoint(&hcn.HostComputeEndpoint{Name: "r", IpConfigurations: ipc("192.0.2.77")})
	if err != nil {
		t.Fatalf("a remote endpoint outside the subnets: %v", err)
	}
	defer remote.Delete()
	if eps, err := hcn.ListEndpointsOfNetwork(network.Id); err != nil || len(eps) != 2 {
		t.Errorf("ListEndpointsOfNetwork: %d endpoints, %v; want 2", len(eps), err)
	}
}

// TestHCNEndpointPolicies: policies added to an endpoint through hcsshim's
// hcn package show on it, a removed one goes, removing one it does not have
// fails, and an invalid one is refused.
func TestHCNEndpointPolicies(t *testing.T) {
	s := start(t)
	if _, err := s.AddNetwork(`{"Name":"pol","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0}}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("pol")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "p", IpConfigurations: []hcn.IpConfig{{IpAddress: "10.91.0.2", PrefixLength: 24}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Delete()
	pm := hcn.EndpointPolicy{Type: hcn.PortMapping, Settings: json.RawMessage(`{"Protocol":6,"InternalPort":80,"ExternalPort":8080}`)}
	policies := func() int {
		got, err := hcn.GetEndpointByID(ep.Id)
		if err != nil {
			t.Fatal(err)
		}
		return len(got.Policies)
	}
	if err := ep.ApplyPolicy(hcn.RequestTypeAdd, hcn.PolicyEndpointRequest{Policies: []hcn.EndpointPolicy{pm}}); err != nil {
		t.Fatal(err)
	}
	if n := policies(); n != 1 {
		t.Fatalf("%d policies after an add", n)
	}
	if err := ep.ApplyPolicy(hcn.RequestTypeRemove, hcn.PolicyEndpointRequest{Policies: []hcn.EndpointPolicy{pm}}); err != nil {
		t.Fatal(err)
	}
	if n := policies(); n != 0 {
		t.Fatalf("%d policies after the remove", n)
	}
	if err := ep.ApplyPolicy(hcn.RequestTypeRemove, hcn.PolicyEndpointRequest{Policies: []hcn.EndpointPolicy{pm}}); err == nil {
		t.Error("removing a policy the endpoint does not have succeeded")
	}
	bad := hcn.EndpointPolicy{Type: hcn.PortMapping, Settings: json.RawMessage(`{"Protocol":1,"InternalPort":80}`)}
	if err := ep.ApplyPolicy(hcn.RequestTypeAdd, hcn.PolicyEndpointRequest{Policies: []hcn.EndpointPolicy{bad}}); err == nil {
		t.Error("an ICMP port mapping was added")
	}
}

// TestHCNLoadBalancerRules: load balancers (kube-proxy's winkernel mode)
// are decoded as hcsshim's HostComputeLoadBalancer and refused with
// backends that do not exist, a port mapping that is not TCP/UDP with both
// ports, or DSR; an accepted one is listed until deleted.
func TestHCNLoadBalancerRules(t *testing.T) {
	s := start(t)
	if _, err := s.AddNetwork(`{"Name":"lbnet","Type":"L2Bridge","SchemaVersion":{"Major":2,"Minor":0}}`); err != nil {
		t.Fatal(err)
	}
	network, err := hcn.GetNetworkByName("lbnet")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := network.CreateEndpoint(&hcn.HostComputeEndpoint{Name: "be", IpConfigurations: []hcn.IpConfig{{IpAddress: "10.96.7.2", PrefixLength: 24}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Delete()
	lb := func(eps []string, pm hcn.LoadBalancerPortMapping, flags hcn.LoadBalancerFlags) (*hcn.HostComputeLoadBalancer, error) {
		return (&hcn.HostComputeLoadBalancer{HostComputeEndpoints: eps, FrontendVIPs: []string{"10.96.0.50"},
			PortMappings: []hcn.LoadBalancerPortMapping{pm}, Flags: flags, SchemaVersion: hcn.SchemaVersion{Major: 2, Minor: 0}}).Create()
	}
	tcp := hcn.LoadBalancerPortMapping{Protocol: 6, InternalPort: 80, ExternalPort: 8080}
	for name, try := range map[string]func() (*hcn.HostComputeLoadBalancer, error){
		"missing backend": func() (*hcn.HostComputeLoadBalancer, error) {
			return lb([]string{"7a4b7e2c-0000-4000-8000-000000000000"}, tcp, 0)
		},
		"ICMP": func() (*hcn.HostComputeLoadBalancer, error) {
			return lb([]string{ep.Id}, hcn.LoadBalancerPortMapping{Protocol: 1, InternalPort: 80, ExternalPort: 80}, 0)
		},
		"no port": func() (*hcn.HostComputeLoadBalancer, error) {
			return lb([]string{ep.Id}, hcn.LoadBalancerPortMapping{Protocol: 6, InternalPort: 80}, 0)
		},
		"DSR": func() (*hcn.HostComputeLoadBalancer, error) {
			return lb([]string{ep.Id}, tcp, hcn.LoadBalancerFlagsDSR)
		},
		"no endpoints": func() (*hcn.HostComputeLoadBalancer, error) { return lb(nil, tcp, 0) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: a load balancer was created", name)
		}
	}
	got, err := lb([]string{ep.Id}, tcp, 0)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := hcn.ListLoadBalancers(); err != nil || len(list) != 1 || len(list[0].HostComputeEndpoints) != 1 {
		t.Fatalf("load balancers: %+v %v", list, err)
	}
	if pl, err := hcsshim.HNSListPolicyListRequest(); err != nil || len(pl) != 1 || len(pl[0].EndpointReferences) != 1 ||
		!strings.Contains(strings.ToLower(pl[0].EndpointReferences[0]), strings.ToLower(ep.Id)) {
		t.Fatalf("HNS v1 policy lists: %+v %v", pl, err)
	}
	if err := got.Delete(); err != nil {
		t.Fatal(err)
	}
	if list, err := hcn.ListLoadBalancers(); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %+v %v", list, err)
	}
}
