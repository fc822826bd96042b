#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nic_facts
short_description: Discover network interfaces, their links and addresses, and the default route
version_added: "0.1.0"
description:
  - Reads C(/sys/class/net) of the node (under O(root)) and returns one fact dict per interface, with
    whether it is a free physical uplink the plan may use and the reasons it is not.
  - Addresses and alternative names come from C(ip -j addr show); the IPv4 default route from
    C(/proc/net/route). With a O(root) other than C(/), the C(ip) output is replayed from the capture tree.
  - Entries of C(/sys/class/net) that are not symlinks (such as C(bonding_masters)) are skipped.
  - The node needs only the Python standard library.
author:
  - Cloud-in-a-Box developers
options:
  root:
    description:
      - Directory that holds the C(sys) and C(proc) trees to read.
      - Point it at an extracted capture of M(ciab.box.hardware_capture) to replay another machine.
    type: path
    default: /
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
seealso:
  - module: ciab.box.disk_facts
  - module: ciab.box.hardware_capture
  - plugin: ciab.box.hardware
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Discover network interfaces
  ciab.box.nic_facts:

- name: Show the physical uplinks the plan may use
  ansible.builtin.debug:
    msg: "{{ ciab_nics | selectattr('eligible') | map(attribute='name') | list }}"

- name: Show the interface of the default route
  ansible.builtin.debug:
    msg: "{{ ciab_default_route.interface }} via {{ ciab_default_route.gateway }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    ciab_nics:
      description: One dict per interface, sorted by name.
      returned: always
      type: list
      elements: dict
      contains:
        name:
          description: Interface name as in /sys/class/net.
          type: str
          sample: eno1np0
        physical:
          description: Backed by a device (has /sys/class/net/NAME/device).
          type: bool
        type:
          description: Interface type.
          type: str
          choices: [ether, bridge, bond, vlan, veth, loopback, tun, wireless, other]
        driver:
          description: Kernel driver of a physical interface; null for virtual ones.
          type: str
          sample: bnxt_en
        mac:
          description: Current MAC address.
          type: str
        permanent_mac:
          description: Burned-in MAC address; null when unknown.
          type: str
        speed_mbps:
          description: Link speed in Mb/s; null when unknown or the link is down.
          type: int
        duplex:
          description: C(full) or C(half); null when unknown.
          type: str
        carrier:
          description: Link detected; null when the kernel cannot tell (interface down).
          type: bool
        operstate:
          description: RFC 2863 operational state (up, down, unknown ...).
          type: str
        mtu:
          description: MTU.
          type: int
        pci_address:
          description: PCI address; null when not on PCI.
          type: str
        numa_node:
          description: NUMA node of the PCI device; null when unknown.
          type: int
        sriov_totalvfs:
          description: SR-IOV virtual functions the device supports; 0 when none.
          type: int
        master:
          description: Bridge or bond this interface belongs to; null when none.
          type: str
        master_type:
          description: C(bridge) or C(bond); null when there is no master or it is another kind.
          type: str
        members:
          description: Bridge ports or bond slaves of this interface.
          type: list
          elements: str
        altnames:
          description: Alternative names (from ip).
          type: list
          elements: str
        addresses:
          description: Addresses, each C(family), C(address), C(prefixlen), C(cidr) and C(scope).
          type: list
          elements: dict
        default_route:
          description: The IPv4 default route leaves through this interface.
          type: bool
        eligible:
          description: A free physical uplink the plan may use.
          type: bool
        reasons:
          description: Why the interface is not eligible; empty when it is.
          type: list
          elements: str
          sample: ["is a bond slave of bond0"]
    ciab_default_route:
      description: IPv4 default route with the lowest metric; C(interface) and C(gateway) are null without one.
      returned: always
      type: dict
      sample: {"interface": "eno1np0", "gateway": "10.10.0.1", "family": "inet"}
"""


from ansible_collections.ciab.box.plugins.module_utils.discovery_module import start
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics

# Kept beside DOCUMENTATION; tests/unit/test_docs.py checks that both say the same.
ARGUMENT_SPEC = {"root": {"type": "path", "default": "/"}}


def main() -> None:
    module, root, runner = start(ARGUMENT_SPEC)
    nics, route = discover_nics(root, runner, warn=module.warn)
    module.exit_json(changed=False, ansible_facts={"ciab_nics": nics, "ciab_default_route": route})


if __name__ == "__main__":
    main()
