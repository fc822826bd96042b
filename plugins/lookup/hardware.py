# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: hardware
short_description: Disk and NIC discovery on the controller (or of a captured machine)
version_added: "0.1.0"
description:
  - Runs the same discovery as M(ciab.box.disk_facts) and M(ciab.box.nic_facts), but on the controller and
    without a play. Useful to plan from a capture (O(root) pointing at an extracted C(hardware_capture)) or for
    the all-in-one case where the controller is the box.
  - Returns one dict with the keys asked for in the terms.
author:
  - Cloud-in-a-Box developers
options:
  _terms:
    description:
      - Parts to return, any of C(disks), C(nics) and C(default_route). Without terms all three are returned.
    type: list
    elements: str
    required: false
  root:
    description:
      - Directory that holds the C(sys), C(proc), C(run/udev) and C(dev) trees to read, C(/) for the controller.
      - A relative path is relative to the directory of the playbook.
    type: path
    default: /
  include_loop:
    description:
      - Make loop devices with a backing file eligible as OSDs (the sandbox uses loop files).
    type: bool
    default: false
seealso:
  - module: ciab.box.disk_facts
  - module: ciab.box.nic_facts
  - module: ciab.box.hardware_capture
"""

EXAMPLES = r"""
- name: Plan from a capture of the real box
  ansible.builtin.set_fact:
    box: "{{ lookup('ciab.box.hardware', root='captures/node1') }}"

- name: Only the eligible disks of the controller
  ansible.builtin.debug:
    msg: "{{ lookup('ciab.box.hardware', 'disks').disks | selectattr('eligible_for_osd') | list }}"
"""

RETURN = r"""
_raw:
  description:
    - One dict with the requested keys.
    - C(disks) is the list of M(ciab.box.disk_facts) (C(ciab_disks)), C(nics) the list of
      M(ciab.box.nic_facts) (C(ciab_nics)) and C(default_route) its C(ciab_default_route).
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics

PARTS = ("disks", "nics", "default_route")
display = Display()


def hardware(root: str = "/", parts: list[str] | None = None, include_loop: bool = False) -> dict:
    """Discovery of ``root`` restricted to ``parts`` (all when empty); ValueError names a bad argument."""
    wanted = list(parts or PARTS)
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        raise ValueError(f"terms: unknown part(s) {', '.join(map(str, unknown))}; expected some of {', '.join(PARTS)}")
    if not os.path.isdir(os.path.join(root, "sys")):
        raise ValueError(f"root: {root} has no sys/ directory (neither a live system nor an extracted capture)")
    result: dict = {}
    if "disks" in wanted:
        result["disks"] = discover_disks(root, include_loop=include_loop, warn=display.warning)
    if "nics" in wanted or "default_route" in wanted:
        nics, route = discover_nics(root, warn=display.warning)
        if "nics" in wanted:
            result["nics"] = nics
        if "default_route" in wanted:
            result["default_route"] = route
    return result


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        root = self.get_option("root")
        if not os.path.isabs(root) and self._loader is not None:
            root = os.path.join(self._loader.get_basedir(), root)
        try:
            return [hardware(root, terms, self.get_option("include_loop"))]
        except ValueError as exc:
            raise AnsibleLookupError(str(exc)) from exc
