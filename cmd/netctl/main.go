// Command netctl is the box's network service: LAN, wired WAN and modem
// uplinks with failover, DHCP, DNS, the firewall and the OpenVPN tunnel.
// See package netctl; the skeleton (internal/service) runs it.
package main

import (
	"edgebox/internal/service"
	"edgebox/netctl"
)

func main() { service.Main(netctl.ServiceSpec()) }
