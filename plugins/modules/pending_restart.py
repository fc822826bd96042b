#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pending_restart
short_description: Restart a running systemd unit whose configuration is newer than its process
version_added: "0.1.0"
description:
  - The restart a handler still owes. A run that changes a service's configuration and is killed (Ctrl-C, a lost
    SSH connection, OOM, power) before its handler restarts the service leaves a current file and a process that
    runs the old one; the next run reports the file unchanged. This module compares the start of the unit's main
    process with the newest of its O(inputs) and restarts the unit when an input is newer.
  - A unit that is not active, or has no main process, is left alone (its start reads the current files).
  - Run it after the handlers were flushed, so a restart that is due in this run is not done twice.
author:
  - Cloud-in-a-Box developers
options:
  unit:
    description: The systemd unit.
    type: str
    required: true
  inputs:
    description:
      - Files the unit reads at start, and directories whose configuration files (C(*.conf), C(*.ini), C(*.json),
        C(*.yaml), C(*.filters), C(*.service), C(*.cnf), C(*.config), C(*.crt), C(*.key), at any depth) it
        reads. Missing ones are skipped.
    type: list
    elements: path
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Keystone runs its current configuration
  ciab.box.pending_restart:
    unit: keystone
    inputs: [/etc/keystone, /etc/systemd/system/keystone.service]
"""

RETURN = r"""
started:
  description: Wall-clock start of the unit's main process (seconds since the epoch), null when it is not running.
  type: float
  returned: success
newest:
  description: The newest input and its modification time, null when none exists.
  type: dict
  returned: success
  sample: {path: /etc/keystone/keystone.conf, mtime: 1796310000.5}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ciab.box.plugins.module_utils.freshness import newest_input, parse_show, process_started

ARGUMENT_SPEC = {
    "unit": {"type": "str", "required": True},
    "inputs": {"type": "list", "elements": "path", "required": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    unit = module.params["unit"]
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command(
        [systemctl, "show", "-p", "ActiveState", "-p", "ExecMainStartTimestampMonotonic", unit]
    )
    if rc != 0:
        module.fail_json(msg=f"systemctl show {unit} failed: {err.strip()}")
    started = process_started(parse_show(out), time.time(), time.monotonic())
    newest = newest_input(module.params["inputs"])
    result = {"started": started, "newest": {"path": newest[1], "mtime": newest[0]} if newest else None}
    stale = started is not None and newest is not None and newest[0] > started
    if stale and not module.check_mode:
        rc, out, err = module.run_command([systemctl, "restart", unit])
        if rc != 0:
            module.fail_json(msg=f"{unit} runs an older configuration than {newest[1]} and did not restart: "
                                 f"{err.strip()} (see journalctl -u {unit})", **result)  # fmt: skip
    module.exit_json(changed=stale, **result)


if __name__ == "__main__":
    main()
