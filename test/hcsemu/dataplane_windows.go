package hcsemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/Microsoft/hcsshim/hcn"
)

// The HNS data path as the host sees it. On a Windows node the host reaches
// every endpoint of an L2Bridge network at its address, and a PortMapping
// policy forwards a host port to the endpoint (WinNAT). Wine has no
// compartments: a container process listens on the host's own stack. So the
// emulator puts each endpoint's address on the host's loopback (label
// lo:hcsemu, with ip(8), which Wine runs as a Unix program), where a
// connection to it reaches the container's listener, and runs a TCP
// forwarder for each PortMapping with an external port, from that port on
// the policy's VIP (all host addresses when none) to the endpoint's address
// and internal port. UDP mappings are recorded and not forwarded
// (docs/windows.md). The endpoint's counters (HNS endpoint statistics) are
// those of iptables rules that count what reaches its address. Every change is made and undone with the endpoint or
// policy, and all of it when the emulator closes.

const loLabel = "lo:hcsemu"

type dataplane struct {
	mu    sync.Mutex
	addrs map[string][]string              // endpoint id -> addresses on lo
	fwds  map[string]map[string]*forwarder // endpoint id -> mapping key -> forwarder
}

type forwarder struct {
	ln   net.Listener
	to   string
	wg   sync.WaitGroup
	done chan struct{}
}

// endpointPlumbing is what an endpoint document asks of the data path.
func endpointPlumbing(o map[string]any) (addrs []string, maps map[string]hcn.PortMappingPolicySetting) {
	b, _ := json.Marshal(o)
	var ep hcn.HostComputeEndpoint
	_ = json.Unmarshal(b, &ep)
	if ep.Flags&hcn.EndpointFlagsRemoteEndpoint != 0 {
		return nil, nil // on another node: nothing on this host
	}
	for _, ipc := range ep.IpConfigurations {
		if ip, err := netip.ParseAddr(ipc.IpAddress); err == nil && ip.Is4() {
			addrs = append(addrs, ip.String())
		}
	}
	maps = map[string]hcn.PortMappingPolicySetting{}
	for _, p := range ep.Policies {
		var pm hcn.PortMappingPolicySetting
		if p.Type != hcn.PortMapping || json.Unmarshal(p.Settings, &pm) != nil || pm.ExternalPort == 0 || pm.Protocol != 6 {
			continue
		}
		maps[fmt.Sprintf("%s:%d->%d", pm.VIP, pm.ExternalPort, pm.InternalPort)] = pm
	}
	return addrs, maps
}

// syncEndpoint makes the data path match endpoint id's document (nil: the
// endpoint is gone). The caller holds s.mu.
func (s *Server) syncEndpoint(id string, o map[string]any) *hcsError {
	d := &s.dp
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.addrs == nil {
		d.addrs, d.fwds = map[string][]string{}, map[string]map[string]*forwarder{}
	}
	var want []string
	maps := map[string]hcn.PortMappingPolicySetting{}
	if o != nil {
		want, maps = endpointPlumbing(o)
	}
	for key, f := range d.fwds[id] {
		if _, ok := maps[key]; !ok {
			f.close()
			delete(d.fwds[id], key)
		}
	}
	if strings.Join(want, ",") != strings.Join(d.addrs[id], ",") {
		if err := setLoopback(d.addrs[id], false); err != nil {
			return fail(hrInvalidState, "endpoint %s: %v", id, err)
		}
		delete(d.addrs, id)
		if err := setLoopback(want, true); err != nil {
			return fail(hrInvalidState, "endpoint %s: %v", id, err)
		}
		if len(want) > 0 {
			d.addrs[id] = want
		}
	}
	if len(maps) > 0 && len(want) == 0 {
		return fail(hrInvalidArg, "endpoint %s has port mappings and no IPv4 address", id)
	}
	keys := make([]string, 0, len(maps))
	for k := range maps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if d.fwds[id][key] != nil {
			continue
		}
		pm := maps[key]
		f, err := startForwarder(net.JoinHostPort(pm.VIP, strconv.Itoa(int(pm.ExternalPort))),
			net.JoinHostPort(want[0], strconv.Itoa(int(pm.InternalPort))))
		if err != nil {
			// The port is taken on the host: HNS fails the policy too.
			return fail(hrAlreadyExists, "port mapping %s of endpoint %s: %v", key, id, err)
		}
		if d.fwds[id] == nil {
			d.fwds[id] = map[string]*forwarder{}
		}
		d.fwds[id][key] = f
	}
	return nil
}

// closeDataplane undoes everything (Close).
func (s *Server) closeDataplane() {
	d := &s.dp
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, fs := range d.fwds {
		for _, f := range fs {
			f.close()
		}
		delete(d.fwds, id)
	}
	for id, a := range d.addrs {
		if err := setLoopback(a, false); err != nil {
			fmt.Fprintf(os.Stderr, "hcsemu: endpoint %s: %v\n", id, err)
			continue // kept: EndpointAddresses lists it
		}
		delete(d.addrs, id)
	}
}

// EndpointAddresses lists the endpoint addresses the emulator has put on
// the host's loopback and not taken off, sorted.
func (s *Server) EndpointAddresses() []string {
	s.dp.mu.Lock()
	defer s.dp.mu.Unlock()
	var out []string
	for _, a := range s.dp.addrs {
		out = append(out, a...)
	}
	sort.Strings(out)
	return out
}

// setLoopback adds or deletes addresses (as /32) on the host's loopback,
// each with its two counting rules: iptables rules without a target, which
// count and let every packet on. A connection to the endpoint's listener
// enters INPUT addressed to the endpoint both ways (on lo the kernel gives
// it the endpoint's address as its source too): conntrack's ORIGINAL
// direction is what the endpoint receives, REPLY what it sends.
func setLoopback(addrs []string, add bool) error {
	if len(addrs) == 0 {
		return nil
	}
	var script []string
	for _, a := range addrs {
		rules := []string{
			fmt.Sprintf("INPUT -d %s/32 -m conntrack --ctdir ORIGINAL -m comment --comment hcsemu-rx", a),
			fmt.Sprintf("INPUT -d %s/32 -m conntrack --ctdir REPLY -m comment --comment hcsemu-tx", a),
		}
		for _, r := range rules { // never twice
			script = append(script, fmt.Sprintf("while iptables -w -D %s 2>/dev/null; do :; done", r))
		}
		if add {
			script = append(script, fmt.Sprintf("ip addr replace %s/32 dev lo label %s", a, loLabel))
			for _, r := range rules {
				script = append(script, "iptables -w -I "+r)
			}
		} else {
			script = append(script, fmt.Sprintf("ip addr del %s/32 dev lo", a))
		}
	}
	_, err := runUnix(strings.Join(script, " && "))
	return err
}

// endpointCounters are the bytes and packets an endpoint's addresses
// received and sent, from their counting rules.
func (s *Server) endpointCounters(id string) (rxBytes, txBytes, rxPkts, txPkts uint64, err error) {
	s.dp.mu.Lock()
	addrs := append([]string(nil), s.dp.addrs[strings.ToLower(id)]...)
	s.dp.mu.Unlock()
	if len(addrs) == 0 {
		return 0, 0, 0, 0, nil
	}
	out, err := runUnix("iptables -w -nvx -L INPUT")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// pkts bytes target? prot opt in out source destination ... /* hcsemu-rx */
		if len(f) < 9 || !strings.Contains(line, "hcsemu-") {
			continue
		}
		dst := ""
		for _, a := range addrs {
			if strings.Contains(line, " "+a+" ") {
				dst = a
			}
		}
		if dst == "" {
			continue
		}
		pkts, _ := strconv.ParseUint(f[0], 10, 64)
		bytes, _ := strconv.ParseUint(f[1], 10, 64)
		if strings.Contains(line, "hcsemu-rx") {
			rxBytes, rxPkts = rxBytes+bytes, rxPkts+pkts
		} else {
			txBytes, txPkts = txBytes+bytes, txPkts+pkts
		}
	}
	return rxBytes, txBytes, rxPkts, txPkts, nil
}

func startForwarder(listen, to string) (*forwarder, error) {
	ln, err := net.Listen("tcp4", listen)
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, to: to, done: make(chan struct{})}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp4", f.to)
			if err != nil {
				return // the client sees the connection closed, as when nothing listens in the container
			}
			defer up.Close()
			go func() {
				_, _ = io.Copy(up, c)
				up.(*net.TCPConn).CloseWrite()
			}()
			select {
			case <-f.done:
			case <-copyDone(c, up):
			}
		}()
	}
}

func copyDone(dst io.Writer, src io.Reader) chan struct{} {
	ch := make(chan struct{})
	go func() {
		_, _ = io.Copy(dst, src)
		close(ch)
	}()
	return ch
}

func (f *forwarder) close() {
	close(f.done)
	f.ln.Close()
	f.wg.Wait()
}
