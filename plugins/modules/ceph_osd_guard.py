#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ceph_osd_guard
short_description: Refuse to turn a device into a Ceph OSD unless it is the planned, empty disk
version_added: "0.1.0"
description:
  - The last check before C(ceph-volume) writes to a device. Discovers the node's disks again (the same code as
    M(ciab.box.disk_facts)) and compares O(device) with its entry in O(plan).
  - Fails unless the device is in O(plan), its C(/dev/disk/by-id) path and serial still match the plan entry (a
    loop device, which has neither, is identified by its path and backing file), and it is blank and unused
    (it can be opened exclusively; no mount (in any mount namespace), swap, holder or loop device uses it; no
    other loop device shares its backing file; and neither blkid, C(wipefs), a primary or backup GPT header nor
    a sampled read finds anything on it).
  - Each finding has a code and a kind (RV(findings)); the kinds come from one table shared with
    M(ciab.box.disk_facts) and the P(ciab.box.osd_devices#filter) filter. A device whose findings are all of
    kind C(data) and whose serial, by-id path or loop backing file is listed in O(allow_wipe) is wiped first
    with C(wipefs --all) and by zeroing its first 10 MiB and its last MiB (the backup GPT); the module then
    discovers it again and fails unless only unsampled old data is left. A finding of kind C(in_use) or
    C(unfit) refuses the device even when it is listed in O(allow_wipe).
  - Call it for one device right before that device is prepared, not for all devices first.
  - A device whose BlueStore label names O(cluster_fsid) is adopted (RV(action=adopt)), never re-created; one of
    another cluster is refused unless listed in O(allow_wipe).
  - A whole device whose label names O(cluster_fsid) and an OSD of O(cluster_osds) but lacks C(mkfs_done) (a
    prepare was stopped during mkfs, so no data was ever written) is wiped without O(allow_wipe) and prepared
    again; RV(purge_osd) names the id to purge. The P(ciab.box.orphan_osds#filter) filter finds the ids of
    prepares stopped before the label was written.
  - Every failure message names the device, what was found on it and the variable to set.
  - The node needs only the Python standard library, C(wipefs), C(blkid) (when udev has no record of a
    device), and for BlueStore devices C(ceph-bluestore-tool).
author:
  - Cloud-in-a-Box developers
options:
  device:
    description:
      - The device to check, as its plan entry names it (C(path), C(by_id), C(name) or, for a planned partition,
        C(/dev/<partition_name>)).
    type: str
    required: true
  plan:
    description:
      - The planned OSD devices of this node (C(ceph_osd_devices), the C(osd.devices) list of the plan), each a
        dict with C(name), C(path), C(by_id), C(serial), C(transport), C(size_bytes), C(action) and for loop
        devices C(loop_backing_file).
    type: list
    elements: dict
    required: true
  cluster_fsid:
    description:
      - The fsid of the cluster being deployed; a BlueStore device labelled with it is adopted.
    type: str
    required: true
  cluster_osds:
    description:
      - OSD uuids in the cluster's OSD map (C(ceph osd dump)). A device labelled with O(cluster_fsid) is adopted
        only when its OSD is among them; otherwise (the monitors were made anew with a kept fsid) it is treated
        like an OSD of another cluster. Omit it to adopt on the fsid alone.
    type: list
    elements: str
  allow_wipe:
    description:
      - Serials, C(/dev/disk/by-id) paths (or their basenames) and loop backing files of devices whose
        signatures, partition tables or foreign BlueStore OSDs may be destroyed (C(ceph_allow_wipe)).
    type: list
    elements: str
    default: []
  zap:
    description:
      - Destroy (C(ciab destroy)) instead of prepare. The device is wiped only when it holds an OSD of
        O(cluster_fsid) that O(cluster_osds) lists (finished or interrupted), and nothing holds it open (its OSD is
        stopped); its signatures are wiped and the whole device discarded (or its first 10 MiB zeroed where it
        cannot discard). A blank device is left as it is (RV(zap) empty). Anything else, another cluster's OSD,
        other data, a device in use or not found, is never wiped; RV(action) is then C(keep) and RV(kept) says why.
        O(allow_wipe) plays no part.
    type: bool
    default: false
  root:
    description:
      - Directory that holds the C(sys), C(proc), C(run/udev) and C(dev) trees to read. With anything but C(/)
        command outputs are replayed from the capture tree and nothing is wiped (tests).
    type: path
    default: /
attributes:
  check_mode:
    support: full
    details: In check mode nothing is wiped; RV(action) says what would be done.
  diff_mode:
    support: none
notes:
  - Run with become. A kernel name that moved since the plan is followed through the by-id path and reported in
    RV(notes); RV(device) is the path to use now.
seealso:
  - module: ciab.box.disk_facts
  - plugin: ciab.box.osd_devices
    plugin_type: filter
"""

EXAMPLES = r"""
# osd_device.yml, included once per planned device (loop_var: osd_device): guard, then prepare at once.
- name: Check the device right before ceph-volume prepares it
  ciab.box.ceph_osd_guard:
    device: "{{ osd_device.path }}"
    plan: "{{ ceph_osd_devices }}"
    cluster_fsid: "{{ ceph_fsid }}"
    cluster_osds: "{{ (osd_dump.stdout | from_json).osds | map(attribute='uuid') }}"
    allow_wipe: "{{ ceph_allow_wipe }}"
  register: guard
  become: true

- name: Prepare it if the guard let it through
  ansible.builtin.command:
    argv: [ceph-volume, raw, prepare, --bluestore, --data, "{{ guard.device }}"]
  when: guard.action in ['prepare', 'wipe_then_prepare']
  become: true
"""

RETURN = r"""
device:
  description: The path to give ceph-volume now (the kernel name may have moved since the plan).
  returned: success
  type: str
  sample: /dev/nvme1n1
disk:
  description: The whole disk the device is on.
  returned: success
  type: str
  sample: /dev/nvme1n1
size_bytes:
  description: Size of the whole disk in bytes.
  returned: success
  type: int
action:
  description: What to do with the device (C(keep) only with O(zap), when it is left as it is; RV(kept) says why).
  returned: success
  type: str
  choices: [prepare, wipe_then_prepare, adopt, create_partition, keep]
identity:
  description: The identity that was checked against the plan.
  returned: success
  type: dict
  contains:
    by_id:
      description: Preferred /dev/disk/by-id path; null for loop devices.
      type: str
    serial:
      description: Serial number; null when the device has none.
      type: str
    loop_backing_file:
      description: Backing file of a loop device; null otherwise.
      type: str
found:
  description: What was found on the device (what was wiped, or the adopted OSD); empty for a clean device.
  returned: success
  type: list
  elements: str
  sample: ["carries ext4 filesystem signature"]
findings:
  description: >-
    RV(found) with codes, as M(ciab.box.disk_facts) reports them: C(code), C(kind) (C(in_use), C(data) or
    C(unfit)), C(text) and C(device) (the disk or partition concerned).
  returned: success
  type: list
  elements: dict
  sample: [{"code": "fs_signature", "kind": "data", "text": "carries ext4 filesystem signature", "device": "sdb"}]
wipe:
  description: Paths that were (or in check mode would be) wiped, partitions first.
  returned: success
  type: list
  elements: str
wiped:
  description: Commands run to wipe the device; empty when nothing was wiped.
  returned: success
  type: list
  elements: str
osd:
  description: >-
    The BlueStore label of an adopted OSD, or of the unfinished one that was wiped (C(osd_id), C(osd_fsid),
    C(cluster_fsid), C(mkfs_done)); null otherwise.
  returned: success
  type: dict
purge_osd:
  description: >-
    The id of this cluster's OSD whose prepare was interrupted (its label is on the device, its mkfs never
    finished); the device was wiped and the id must be purged (C(ceph osd purge-new)) before preparing again.
    Null otherwise.
  returned: success
  type: int
partition:
  description: >-
    The partition to create for RV(action=create_partition) (C(disk), C(number), C(path), C(start_sector),
    C(end_sector) in logical sectors, C(typecode)); null otherwise.
  returned: success
  type: dict
zap:
  description: With O(zap), the path that holds this cluster's OSD and is (or in check mode would be) wiped.
  returned: with O(zap), unless the device is kept
  type: list
  elements: str
zapped:
  description: With O(zap), the commands run to wipe it; empty when nothing was wiped.
  returned: with O(zap)
  type: list
  elements: str
kept:
  description: With O(zap), why the device is left as it is (not an OSD of this cluster, in use, not found).
  returned: with O(zap)
  type: str
notes:
  description: Things worth knowing that did not stop the guard (a kernel name that moved since the plan).
  returned: success
  type: list
  elements: str
"""

from ansible_collections.ciab.box.plugins.module_utils.discovery_module import start
from ansible_collections.ciab.box.plugins.module_utils.wipe_guard import (
    GuardError,
    check_device,
    check_wiped,
    wipe,
    zap,
    zap_decision,
)

ARGUMENT_SPEC = {
    "device": {"type": "str", "required": True},
    "plan": {"type": "list", "elements": "dict", "required": True},
    "cluster_fsid": {"type": "str", "required": True},
    "cluster_osds": {"type": "list", "elements": "str"},
    "allow_wipe": {"type": "list", "elements": "str", "default": []},
    "root": {"type": "path", "default": "/"},
    "zap": {"type": "bool", "default": False},
}


def destroy(module, params, kwargs) -> None:
    """zap=true: wipe the device only if it holds an OSD of this cluster's map and nothing holds it open."""
    try:
        decision = zap_decision(
            params["device"],
            params["plan"],
            params["cluster_fsid"],
            cluster_osds=params["cluster_osds"] or [],
            root=kwargs["root"],
            runner=kwargs["runner"],
        )
    except GuardError as exc:
        module.exit_json(changed=False, action="keep", zapped=[], kept=str(exc), device=params["device"])
    zapped = []
    if decision["zap"] and not module.check_mode and kwargs["root"] == "/":
        try:
            zapped = zap(decision, kwargs["runner"])
        except GuardError as exc:
            module.fail_json(msg=str(exc), rc=exc.rc, stderr=exc.stderr, device=params["device"])
    module.exit_json(changed=bool(decision["zap"]), zapped=zapped, kept=None, **decision)


def main() -> None:
    module, root, runner = start(ARGUMENT_SPEC)
    params = module.params
    args = (params["device"], params["plan"], params["cluster_fsid"])
    kwargs = {
        "allow_wipe": params["allow_wipe"],
        "cluster_osds": params["cluster_osds"],
        "root": root,
        "runner": runner,
    }
    if params["zap"]:
        destroy(module, params, kwargs)
    wiped: list[str] = []
    try:
        decision = check_device(*args, **kwargs)
        # Nothing is ever wiped in check mode or on a replayed capture (root other than /).
        if decision["action"] == "wipe_then_prepare" and not module.check_mode and root == "/":
            wiped = wipe(decision, runner)
            check_wiped(decision, check_device(*args, **kwargs))
    except GuardError as exc:
        module.fail_json(msg=str(exc), rc=exc.rc, stderr=exc.stderr, device=params["device"])
    module.exit_json(changed=bool(wiped), wiped=wiped, **decision)


if __name__ == "__main__":
    main()
