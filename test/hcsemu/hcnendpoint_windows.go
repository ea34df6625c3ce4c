package hcsemu

import (
	"encoding/json"
	"net"
	"net/netip"
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
		if len(subnets) > 0 && !inAny(ip, subnets) {
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
