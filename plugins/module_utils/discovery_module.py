"""The start every discovery module shares: parameters, C locale for commands, root check, command runner."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ciab.box.plugins.module_utils.sysfs import Runner, default_runner


def start(argument_spec: dict) -> tuple[AnsibleModule, str, Runner]:
    """A read-only (check-mode safe) module, its ``root`` parameter and a runner bound to that root."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
    root = module.params["root"]
    if not os.path.isdir(os.path.join(root, "sys")):
        module.fail_json(msg=f"root {root} has no sys/ directory: neither a live system nor an extracted capture")
    return module, root, default_runner(root, module.run_command)
