#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hardware_capture
short_description: Snapshot what disk and NIC discovery read into a replayable .tar.gz
version_added: "0.1.0"
description:
  - Runs the discovery of M(ciab.box.disk_facts) and M(ciab.box.nic_facts) while recording every file,
    symlink and directory listing it reads under C(/sys), C(/run/udev/data), C(/dev/disk/by-id) and C(/proc),
    and every command it runs (C(ip -j addr show), C(blkid -p -o export) per device), then writes them as a
    gzipped tar at O(dest).
  - Only small regular text files are copied and symlinks stay symlinks; unreadable, binary or huge
    attributes are skipped and block device contents are never read.
    C(/proc/self/mountinfo), C(/proc/mounts), C(/proc/swaps) and C(/proc/net/route) are always included.
  - "Replay: extract the archive anywhere and pass C(<dir>/<name>) as O(ciab.box.disk_facts#module:root) or
    O(ciab.box.nic_facts#module:root); commands are answered from C(<name>/ciab-capture/commands/)."
  - Captures are the unit test fixtures of this collection; drop one under C(tests/unit/fixtures/) to add a
    machine.
author:
  - Cloud-in-a-Box developers
options:
  dest:
    description:
      - Path of the archive to write on the node. Its directory must exist.
    type: path
    required: true
  name:
    description:
      - Top-level directory inside the archive, which becomes the fixture name.
      - Defaults to the short host name of the node.
    type: str
  root:
    description:
      - Tree to capture. Anything other than C(/) is an extracted capture whose recorded command outputs are
        reused (useful to trim a capture to what discovery reads).
    type: path
    default: /
attributes:
  check_mode:
    support: full
    details: In check mode nothing is read or written and the module reports a change.
  diff_mode:
    support: none
notes:
  - Run with become so C(blkid) can open the devices; otherwise its failures are captured as they happened.
seealso:
  - module: ciab.box.disk_facts
  - module: ciab.box.nic_facts
"""

EXAMPLES = r"""
- name: Capture the hardware of the node
  ciab.box.hardware_capture:
    dest: /tmp/ciab-capture.tar.gz
  become: true

- name: Bring the capture to the controller
  ansible.builtin.fetch:
    src: /tmp/ciab-capture.tar.gz
    dest: "captures/{{ inventory_hostname }}.tar.gz"
    flat: true
"""

RETURN = r"""
dest:
  description: Path of the archive written.
  returned: always
  type: str
  sample: /tmp/ciab-capture.tar.gz
name:
  description: Top-level directory inside the archive.
  returned: always
  type: str
  sample: node1
members:
  description: Number of files, symlinks and directories in the archive; 0 in check mode.
  returned: always
  type: int
  sample: 412
size_bytes:
  description: Size of the archive; 0 in check mode.
  returned: always
  type: int
  sample: 18211
"""

import os
import socket
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks
from ansible_collections.ciab.box.plugins.module_utils.nics import discover_nics
from ansible_collections.ciab.box.plugins.module_utils.sysfs import capture_tree

# Kept beside DOCUMENTATION; tests/unit/test_docs.py checks that both say the same.
ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "name": {"type": "str"},
    "root": {"type": "path", "default": "/"},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
    dest, root = module.params["dest"], module.params["root"]
    name = module.params["name"] or socket.gethostname().split(".")[0]
    if "/" in name or name in ("", ".", ".."):
        module.fail_json(msg=f"name {name!r} must be a single directory name")
    if not os.path.isdir(os.path.dirname(dest) or "."):
        module.fail_json(msg=f"directory of dest {dest} does not exist")
    result = {"changed": True, "dest": dest, "name": name, "members": 0, "size_bytes": 0}
    if module.check_mode:
        module.exit_json(**result)
    meta = {"captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source_root": root}
    fd, tmp = tempfile.mkstemp(prefix=".ciab-capture-", suffix=".tar.gz", dir=os.path.dirname(dest) or ".")
    os.close(fd)
    try:
        result["members"] = capture_tree(
            root, tmp, name, (discover_disks, discover_nics), run_command=module.run_command, meta=meta
        )
    except OSError as exc:
        os.unlink(tmp)
        module.fail_json(msg=f"could not write the capture: {exc}", **result)
    module.atomic_move(tmp, dest)
    result["size_bytes"] = os.path.getsize(dest)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
