package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// compartment is what the emulated host answers for the calling process
// (test/hcsemu's HcsemuContainerNetwork): the HCN endpoints of its
// container's network namespace. A real container's ipconfig reads the
// same from its own network compartment.
type compartment struct {
	HostName  string
	Endpoints []struct {
		Name             string
		MacAddress       string
		IpConfigurations []struct {
			IpAddress    string
			PrefixLength int
		}
		Dns struct {
			Domain     string
			Search     []string
			ServerList []string
		}
		Routes []struct{ NextHop, DestinationPrefix string }
	}
}

// ipconfig /all prints, for each adapter of the container, the lines of
// Windows' ipconfig /all that name its address, gateway and DNS settings.
func (sh *shell) ipconfig(args []string) int {
	if len(args) != 1 || !strings.EqualFold(args[0], "/all") {
		fmt.Fprintf(sh.errOut, "ipconfig: this stand-in answers only ipconfig /all\r\n")
		return 1
	}
	var c compartment
	if err := askEmulator("HcsemuContainerNetwork", &c); err != nil {
		fmt.Fprintf(sh.errOut, "ipconfig: %v\r\n", err)
		return 1
	}
	w := sh.out
	fmt.Fprint(w, "\r\nWindows IP Configuration\r\n\r\n")
	fmt.Fprintf(w, "   Host Name . . . . . . . . . . . . : %s\r\n", c.HostName)
	fmt.Fprint(w, "   Primary Dns Suffix  . . . . . . . : \r\n   Node Type . . . . . . . . . . . . : Hybrid\r\n")
	fmt.Fprint(w, "   IP Routing Enabled. . . . . . . . : No\r\n   WINS Proxy Enabled. . . . . . . . : No\r\n")
	for _, ep := range c.Endpoints {
		fmt.Fprintf(w, "\r\nEthernet adapter vEthernet (%s):\r\n\r\n", ep.Name)
		fmt.Fprintf(w, "   Connection-specific DNS Suffix  . : %s\r\n", ep.Dns.Domain)
		fmt.Fprintf(w, "   Physical Address. . . . . . . . . : %s\r\n", ep.MacAddress)
		for _, ip := range ep.IpConfigurations {
			fmt.Fprintf(w, "   IPv4 Address. . . . . . . . . . . : %s(Preferred)\r\n", ip.IpAddress)
			fmt.Fprintf(w, "   Subnet Mask . . . . . . . . . . . : %s\r\n", net.IP(net.CIDRMask(ip.PrefixLength, 32)).String())
		}
		for _, r := range ep.Routes {
			if r.DestinationPrefix == "0.0.0.0/0" {
				fmt.Fprintf(w, "   Default Gateway . . . . . . . . . : %s\r\n", r.NextHop)
			}
		}
		for i, s := range ep.Dns.ServerList {
			label := "   DNS Servers . . . . . . . . . . . : "
			if i > 0 {
				label = strings.Repeat(" ", len(label))
			}
			fmt.Fprintf(w, "%s%s\r\n", label, s)
		}
		for i, s := range ep.Dns.Search {
			label := "   DNS Suffix Search List. . . . . . : "
			if i > 0 {
				label = strings.Repeat(" ", len(label))
			}
			fmt.Fprintf(w, "%s%s\r\n", label, s)
		}
	}
	return 0
}

// askEmulator makes one call to the emulated host: HCSEMU_ADDR, else the
// first line of %SystemRoot%\hcsemu.addr; a frame is "LENGTH\nPAYLOAD",
// fields separated by \x1f: the call, this process's id; the answer's first
// field is an HRESULT.
func askEmulator(call string, v any) error {
	addr := os.Getenv("HCSEMU_ADDR")
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(os.Getenv("SystemRoot"), "hcsemu.addr"))
		if err != nil {
			return fmt.Errorf("no network compartment to read (no emulated host): %v", err)
		}
		addr = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	payload := call + "\x1f" + strconv.Itoa(os.Getpid())
	if _, err := fmt.Fprintf(c, "%d\n%s", len(payload), payload); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	hdr, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(hdr))
	if err != nil || n < 0 || n > 16<<20 {
		return fmt.Errorf("bad answer header %q", hdr)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	f := strings.Split(string(buf), "\x1f")
	if f[0] != "0" || len(f) < 2 {
		return fmt.Errorf("%s: hr %s: %s", call, f[0], strings.Join(f[1:], " "))
	}
	return json.Unmarshal([]byte(f[1]), v)
}
