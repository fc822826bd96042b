#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: disk_facts
short_description: Discover whole block devices and whether each may become a Ceph OSD
version_added: "0.1.0"
description:
  - Reads sysfs, the udev database and the mount tables of the node (under O(root)) and returns one
    fact dict per whole block device, partitions nested, with OSD eligibility and the reasons a disk is
    not eligible (texts, and structured findings with a code).
  - Eligible means blank and unused. On the live system a disk with no other finding is opened exclusively
    (read-only) and read; every signature C(wipefs) lists, the primary and backup GPT headers and a sample of
    its content must show nothing. Mount tables of every mount namespace and loop devices stacked on a disk
    count as use. A replayed capture holds no disk contents, so those reads are skipped there.
  - When udev has no record of a device, signatures are probed with C(blkid -p -o export) (read-only).
    With a O(root) other than C(/), command outputs are replayed from the capture tree instead.
  - RAM disks, zram, device-mapper, md, optical, floppy and nbd devices, hidden NVMe multipath paths and
    loop devices without a backing file are skipped.
  - The node needs only the Python standard library.
author:
  - Cloud-in-a-Box developers
options:
  root:
    description:
      - Directory that holds the C(sys), C(proc), C(run/udev) and C(dev) trees to read.
      - Point it at an extracted capture of M(ciab.box.hardware_capture) to replay another machine.
    type: path
    default: /
  include_loop:
    description:
      - Make loop devices with a backing file eligible (the sandbox builds its OSDs on loop files).
      - Loop devices are reported either way; without this they carry the reason C(is a loop device).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - Run with become so C(blkid) and the content checks can open the devices; without it signatures may be
    unknown and the affected disks are reported ineligible (codes C(probe_failed), C(unverified)).
seealso:
  - module: ciab.box.nic_facts
  - module: ciab.box.hardware_capture
  - plugin: ciab.box.hardware
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Discover disks
  ciab.box.disk_facts:
  become: true

- name: Show the disks that could become OSDs
  ansible.builtin.debug:
    msg: "{{ ciab_disks | selectattr('eligible_for_osd') | map(attribute='by_id_preferred') | list }}"

- name: Replay a captured machine
  ciab.box.disk_facts:
    root: /srv/captures/node1
    include_loop: true
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    ciab_disks:
      description: One dict per whole block device, sorted by kernel name.
      returned: always
      type: list
      elements: dict
      contains:
        name:
          description: Kernel name.
          type: str
          sample: nvme0n1
        path:
          description: Device node.
          type: str
          sample: /dev/nvme0n1
        kind:
          description: Always C(disk).
          type: str
          sample: disk
        by_id:
          description: C(/dev/disk/by-id) links of the device, best first (wwn-/nvme-eui., then model_serial).
          type: list
          elements: str
        by_id_preferred:
          description: The stable name to use in plans; null when the device has no hardware id link.
          type: str
          sample: /dev/disk/by-id/nvme-eui.36344630529001230025384500000001
        wwn:
          description: World wide name (udev ID_WWN, NVMe wwid or SCSI naa); null when unknown.
          type: str
        eui:
          description: NVMe namespace EUI (C(eui.<hex>) from NGUID or EUI-64); null for other disks.
          type: str
        serial:
          description: Serial number; null when unknown.
          type: str
        model:
          description: Model; null when unknown.
          type: str
        vendor:
          description: Vendor (SCSI/USB); null when unknown.
          type: str
        firmware:
          description: Firmware revision; null when unknown.
          type: str
        transport:
          description: Bus of the device.
          type: str
          choices: [nvme, sata, sas, scsi, virtio, usb, loop, mmc, unknown]
        size_bytes:
          description: Size in bytes.
          type: int
        rotational:
          description: Spinning disk.
          type: bool
        removable:
          description: Kernel removable flag.
          type: bool
        read_only:
          description: Kernel read-only flag.
          type: bool
        logical_block_size:
          description: Logical block size (fallback hw_sector_size, then 512).
          type: int
        physical_block_size:
          description: Physical block size (fallback the logical one).
          type: int
        numa_node:
          description: NUMA node of the PCI device; null when unknown.
          type: int
        pci_address:
          description: PCI address of the controller; null when not on PCI.
          type: str
        nvme:
          description: NVMe details (C(controller), C(namespace), C(subsystem), C(multipath)); null otherwise.
          type: dict
        loop_backing_file:
          description: >-
            For a loop device the file behind it, which is its identity (loop devices have no serial);
            null otherwise.
          type: str
        partitions:
          description: >-
            Partitions with C(name), C(path), C(number), C(start_bytes), C(size_bytes), C(fs_type),
            C(mountpoints) and C(holders).
          type: list
          elements: dict
        holders:
          description: Devices built on the whole disk, each C(name) and C(kind) (lvm, dm, md, other).
          type: list
          elements: dict
        mountpoints:
          description: Mount points of the whole device.
          type: list
          elements: str
        fs_type:
          description: Signature on the whole device (ext4, LVM2_member, linux_raid_member, ceph_bluestore ...).
          type: str
        part_table:
          description: Partition table type (gpt, dos); null when none.
          type: str
        ceph_osd:
          description: C(osd_fsid) and C(cluster_fsid) of an existing Ceph OSD on the disk; null otherwise.
          type: dict
        system:
          description: The disk (or something on it) carries /, /boot, /boot/efi, /usr, /var or active swap.
          type: bool
        free_bytes:
          description: Largest 1 MiB aligned unpartitioned region at the end of a partitioned disk; 0 if none.
          type: int
        eligible_for_osd:
          description: The whole disk may be given to Ceph as a new OSD.
          type: bool
        reasons:
          description: Why the disk is not eligible (the texts of the C(findings)); empty when it is.
          type: list
          elements: str
          sample: ["has mounted filesystem on nvme0n1p2 (/)", "has a partition table (gpt) with nvme0n1p1 (vfat)"]
        findings:
          description:
            - Why the disk is not eligible, structured; decisions use C(code), never the text.
            - C(kind) V(in_use) (never wiped, allow_wipe cannot override), V(data) (wiped only when listed in
              allow_wipe) or V(unfit) (a wipe does not help), from the code table shared with the plan filter and
              the OSD guard.
            - "Codes: in_use: mounted, mounted_elsewhere (another mount namespace), swap, held, held_by_osd,
              open_exclusive, loop_backing, shared_backing; data: fs_signature, md_signature, lvm_pv, ceph_osd,
              part_table, partitions, signature (wipefs), gpt_header, nonzero_data (sampled read); unfit: loop,
              size_zero, read_only, removable, no_device_node, probe_failed, probe_ambivalent, unverified."
          type: list
          elements: dict
          contains:
            code:
              description: What was found.
              type: str
            kind:
              description: The kind of the code.
              type: str
              choices: [in_use, data, unfit]
            text:
              description: The same as the matching entry of C(reasons).
              type: str
            device:
              description: The disk or partition concerned; null when not tied to one.
              type: str
          sample: [{"code": "mounted", "kind": "in_use", "text": "has mounted filesystem on nvme0n1p2 (/)",
                    "device": "nvme0n1p2"}]
"""


from ansible_collections.ciab.box.plugins.module_utils.discovery_module import start
from ansible_collections.ciab.box.plugins.module_utils.disks import discover_disks

# Kept beside DOCUMENTATION; tests/unit/test_docs.py checks that both say the same.
ARGUMENT_SPEC = {
    "root": {"type": "path", "default": "/"},
    "include_loop": {"type": "bool", "default": False},
}


def main() -> None:
    module, root, runner = start(ARGUMENT_SPEC)
    disks = discover_disks(root, runner, include_loop=module.params["include_loop"], warn=module.warn)
    module.exit_json(changed=False, ansible_facts={"ciab_disks": disks})


if __name__ == "__main__":
    main()
