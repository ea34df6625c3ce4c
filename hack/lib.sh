# Shell helpers the hack/ scripts that run a wincri of their own share.
# shellcheck shell=bash

# hosts_toml ADDR: a containerd hosts.toml sending pulls to a plain-HTTP
# registry at ADDR.
hosts_toml() { printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$1" "$1"; }

# bridge_conflist NAME BRIDGE SUBNET IPAM-DIR IPMASQ: a CNI config list of a
# bridge (gateway, hairpin) with host-local addresses and portmap.
bridge_conflist() {
  cat <<JSON
{"cniVersion":"1.0.0","name":"$1","plugins":[
 {"type":"bridge","bridge":"$2","isGateway":true,"ipMasq":$5,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$4","ranges":[[{"subnet":"$3"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
JSON
}
