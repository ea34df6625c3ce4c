package hcsemu

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/Microsoft/hcsshim/hcn"
)

// checkEndpoint validates an endpoint's settings for network netID as HNS
// would, decoded strictly with hcsshim's own hcn types: its policies (the
// ones whose settings are known here, each decoded strictly; any other
// policy type is refused, what HNS does with it is not known here), its IP
// configurations (addresses in the network's subnets when it has any, no
// address another endpoint of the network holds) and its MAC address. The
// caller holds s.mu.
func (s *Server) checkEndpoint(netID, doc string) *hcsError {
	var ep hcn.HostComputeEndpoint
	if err := strictJSON(doc, &ep); err != nil {
		return fail(hrInvalidJSON, "endpoint settings: %v", err)
	}
	for _, p := range ep.Policies {
		if err := checkEndpointPolicy(p); err != nil {
			return err
		}
	}
	if ep.MacAddress != "" {
		if _, err := net.ParseMAC(ep.MacAddress); err != nil {
			return fail(hrInvalidArg, "endpoint MacAddress %q: %v", ep.MacAddress, err)
		}
	}
	subnets := s.networkSubnets(netID)
	for _, ipc := range ep.IpConfigurations {
		ip, err := netip.ParseAddr(ipc.IpAddress)
		if err != nil {
			return fail(hrInvalidArg, "endpoint IpAddress %q: %v", ipc.IpAddress, err)
		}
		if int(ipc.PrefixLength) > ip.BitLen() {
			return fail(hrInvalidArg, "endpoint prefix length %d for %s", ipc.PrefixLength, ip)
		}
		// A remote endpoint (one on another node, as kube-proxy makes for
		// a Service's endpoints elsewhere, the API server's host address
		// among them) may be outside the subnets: inferred from
		// kube-proxy's winkernel mode, docs/windows.md.
		if len(subnets) > 0 && !inAny(ip, subnets) && ep.Flags&hcn.EndpointFlagsRemoteEndpoint == 0 {
			return fail(hrInvalidArg, "endpoint address %s is in none of the network's subnets %v", ip, subnets)
		}
		for id, o := range s.hcn["endpoint"] {
			if o["HostComputeNetwork"] == netID && endpointHolds(o, ip) {
				return fail(hrAlreadyExists, "address %s is endpoint %s's in this network", ip, id)
			}
		}
	}
	return nil
}

// checkEndpointPolicy decodes a policy's settings strictly with the hcn
// type of its kind; kinds whose settings are not known here are refused.
func checkEndpointPolicy(p hcn.EndpointPolicy) *hcsError {
	var v any
	switch p.Type {
	case hcn.OutBoundNAT:
		v = &hcn.OutboundNatPolicySetting{}
	case hcn.SDNRoute:
		v = &hcn.SDNRoutePolicySetting{}
	case hcn.PortMapping:
		v = &hcn.PortMappingPolicySetting{}
	case hcn.ACL:
		v = &hcn.AclPolicySetting{}
	default:
		return fail(hrInvalidArg, "endpoint policy %q: not emulated; refused (docs/windows.md)", p.Type)
	}
	if err := strictJSON(string(p.Settings), v); err != nil {
		return fail(hrInvalidArg, "endpoint policy %s settings: %v", p.Type, err)
	}
	if pm, ok := v.(*hcn.PortMappingPolicySetting); ok && (pm.InternalPort == 0 || (pm.Protocol != 6 && pm.Protocol != 17)) {
		return fail(hrInvalidArg, "port mapping %+v: protocol must be 6 or 17 and the internal port set", *pm)
	}
	return nil
}

// networkSubnets are the IPAM subnets of network id.
func (s *Server) networkSubnets(id string) []netip.Prefix {
	var n hcn.HostComputeNetwork
	b, _ := json.Marshal(s.hcn["network"][id])
	if json.Unmarshal(b, &n) != nil {
		return nil
	}
	var out []netip.Prefix
	for _, ipam := range n.Ipams {
		for _, sn := range ipam.Subnets {
			if p, err := netip.ParsePrefix(sn.IpAddressPrefix); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func inAny(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// endpointHolds says whether a stored endpoint has ip among its addresses.
func endpointHolds(o map[string]any, ip netip.Addr) bool {
	cfgs, _ := o["IpConfigurations"].([]any)
	for _, c := range cfgs {
		m, _ := c.(map[string]any)
		if a, _ := m["IpAddress"].(string); strings.EqualFold(a, ip.String()) {
			return true
		}
	}
	return false
}

// v1Endpoints is HNS v1's GET /endpoints/ (hnslib's HNSEndpoint, what the
// Windows kubelet lists for its network stats): each endpoint with its
// network, address and SharedContainers, the compute systems not yet
// stopped whose network namespace holds it. (How real HNS fills
// SharedContainers for namespace attachments is inferred, docs/windows.md.)
func (s *Server) v1Endpoints() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for id, ep := range s.hcn["endpoint"] {
		v1 := map[string]any{"ID": id, "Name": ep["Name"], "VirtualNetwork": ep["HostComputeNetwork"], "State": 1}
		if n := s.hcn["network"][strings.ToLower(fmt.Sprint(ep["HostComputeNetwork"]))]; n != nil {
			v1["VirtualNetworkName"] = n["Name"]
		}
		if mac, ok := ep["MacAddress"].(string); ok {
			v1["MacAddress"] = mac
		}
		if ips, _ := ep["IpConfigurations"].([]any); len(ips) > 0 {
			ip, _ := ips[0].(map[string]any)
			v1["IPAddress"], v1["PrefixLength"] = ip["IpAddress"], ip["PrefixLength"]
		}
		shared := []string{}
		if ns, ok := ep["HostComputeNamespace"].(string); ok {
			v1["Namespace"] = map[string]any{"ID": ns}
			for _, sys := range s.systems {
				if c := sys.doc.Container; c != nil && c.Networking != nil && strings.EqualFold(c.Networking.Namespace, ns) && sys.state != "Stopped" {
					shared = append(shared, sys.id)
				}
			}
		}
		sort.Strings(shared)
		v1["SharedContainers"] = shared
		out = append(out, v1)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["ID"]) < fmt.Sprint(out[j]["ID"]) })
	return out
}

// checkLoadBalancer validates a load balancer (kube-proxy's winkernel mode
// programs one per Service port) decoded strictly with hcsshim's
// hcn.HostComputeLoadBalancer: its backends are existing endpoints, its
// VIPs are addresses, each port mapping is TCP or UDP with its ports set,
// and DSR is refused (what HNS needs for it is not known here). The caller
// holds s.mu. The emulator records it and forwards nothing: on this
// machine the Linux node's kube-proxy already routes a Service's cluster IP
// (docs/windows.md).
func (s *Server) checkLoadBalancer(doc string) *hcsError {
	var lb hcn.HostComputeLoadBalancer
	if err := strictJSON(doc, &lb); err != nil {
		return fail(hrInvalidJSON, "load balancer settings: %v", err)
	}
	if len(lb.HostComputeEndpoints) == 0 || len(lb.PortMappings) == 0 {
		return fail(hrInvalidArg, "a load balancer needs endpoints and port mappings")
	}
	for _, id := range lb.HostComputeEndpoints {
		if s.hcn["endpoint"][strings.ToLower(id)] == nil {
			return fail(hrElementNotFound, "load balancer endpoint %s does not exist", id)
		}
	}
	for _, v := range append(append([]string{}, lb.FrontendVIPs...), lb.SourceVIP) {
		if _, err := netip.ParseAddr(v); v != "" && err != nil {
			return fail(hrInvalidArg, "load balancer VIP %q: %v", v, err)
		}
	}
	for _, pm := range lb.PortMappings {
		if (pm.Protocol != 6 && pm.Protocol != 17) || pm.InternalPort == 0 || pm.ExternalPort == 0 {
			return fail(hrInvalidArg, "load balancer port mapping %+v: protocol must be 6 or 17 and both ports set", pm)
		}
	}
	if lb.Flags&hcn.LoadBalancerFlagsDSR != 0 {
		return fail(hrInvalidArg, "a DSR load balancer: not emulated; refused (docs/windows.md)")
	}
	return nil
}

// v1PolicyLists is HNS v1's GET /policylists/ (kube-proxy's winkernel mode
// asks for it to decide that HNS can load-balance): the load balancers as
// v1 policy lists, each its endpoints' references and one ELB policy per
// port mapping. (That HNS shows v2 load balancers this way is inferred,
// docs/windows.md.)
func (s *Server) v1PolicyLists() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for id, o := range s.hcn["loadbalancer"] {
		b, _ := json.Marshal(o)
		var lb hcn.HostComputeLoadBalancer
		_ = json.Unmarshal(b, &lb)
		refs := []string{}
		for _, ep := range lb.HostComputeEndpoints {
			refs = append(refs, "/endpoints/"+ep)
		}
		policies := []map[string]any{}
		for _, pm := range lb.PortMappings {
			policies = append(policies, map[string]any{"Type": "ELB", "VIPs": lb.FrontendVIPs, "SourceVIP": lb.SourceVIP,
				"Protocol": pm.Protocol, "InternalPort": pm.InternalPort, "ExternalPort": pm.ExternalPort})
		}
		out = append(out, map[string]any{"ID": id, "References": refs, "Policies": policies})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["ID"]) < fmt.Sprint(out[j]["ID"]) })
	return out
}
