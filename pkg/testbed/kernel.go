package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Small kernel operations the netlink library has no call for.

// setSysctls writes /proc/sys/net values inside ns. Those files belong to the network
// namespace of the thread that opens them.
func setSysctls(ns netns.NsHandle, kv ...string) error {
	return inNetns(ns, func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			p := filepath.Join("/proc/sys", strings.ReplaceAll(kv[i], ".", "/"))
			if err := os.WriteFile(p, []byte(kv[i+1]), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", kv[i], kv[i+1], err)
			}
		}
		return nil
	})
}

// setBridgeNfCall turns on the bridge's nf_call_iptables and nf_call_ip6tables options
// (`ip link set BR type bridge nf_call_iptables 1`), so bridged IP traffic traverses the
// inet hooks and conntrack.
func setBridgeNfCall(ns netns.NsHandle, br netlink.Link) error {
	return inNetns(ns, func() error {
		req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
		msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
		msg.Index = int32(br.Attrs().Index)
		req.AddData(msg)
		info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
		info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
		data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
		data.AddRtAttr(nl.IFLA_BR_NF_CALL_IPTABLES, nl.Uint8Attr(1))
		data.AddRtAttr(nl.IFLA_BR_NF_CALL_IP6TABLES, nl.Uint8Attr(1))
		req.AddData(info)
		if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
			return fmt.Errorf("setting nf_call_iptables on bridge %s: %w", br.Attrs().Name, err)
		}
		return nil
	})
}

// flushConntrack deletes every conntrack entry of every family in ns, so that the next
// probes are new connections decided by the rules in force, not by what earlier probes
// left established.
func flushConntrack(ns netns.NsHandle) error {
	return inNetns(ns, func() error {
		req := nl.NewNetlinkRequest((int(netlink.ConntrackTable)<<8)|nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
		req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: nl.NFNETLINK_V0})
		if _, err := req.Execute(unix.NETLINK_NETFILTER, 0); err != nil {
			return fmt.Errorf("flushing conntrack: %w", err)
		}
		return nil
	})
}
