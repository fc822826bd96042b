#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tempest_results
short_description: Count the results of the last Tempest run in a workspace
version_added: "0.1.0"
description:
  - Reads the last run of O(workspace) with C(stestr last --subunit) and C(subunit2csv) of O(venv) and returns
    its counts, the failed tests and how long it took. Changes nothing.
  - Fails naming the workspace when it holds no run.
author:
  - Cloud-in-a-Box developers
options:
  workspace:
    description: The directory C(tempest init) made and C(tempest run) ran in.
    type: path
    required: true
  venv:
    description: The venv Tempest is installed in (its bin holds C(stestr) and C(subunit2csv)).
    type: path
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: The results
  ciab.box.tempest_results:
    workspace: /var/lib/ciab/tempest
    venv: /opt/ciab/openstack/2026.2/tempest
"""

RETURN = r"""
counts:
  description: Tests run, passed (expected failures included), skipped and failed (errors included).
  type: dict
  returned: success
  sample: {total: 80, passed: 70, skipped: 10, failed: 0}
failed_tests:
  description: Ids of the failed tests (a class whose setup failed appears as C(setUpClass (its id))).
  type: list
  elements: str
  returned: success
seconds:
  description: From the first test's start to the last one's end.
  type: int
  returned: success
"""

import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ciab.box.plugins.module_utils.tempest import summarize

ARGUMENT_SPEC = {"workspace": {"type": "path", "required": True}, "venv": {"type": "path", "required": True}}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    workspace, bin_dir = module.params["workspace"], os.path.join(module.params["venv"], "bin")
    for tool in ("stestr", "subunit2csv"):
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            module.fail_json(
                msg=f"no {bin_dir}/{tool}: the Tempest venv is missing or incomplete (ciab.box.tempest installs it)"
            )
    rc, stream, err = module.run_command(
        [os.path.join(bin_dir, "stestr"), "last", "--subunit"], cwd=workspace, encoding=None
    )
    if rc != 0:
        module.fail_json(msg=f"no Tempest run in {workspace} (stestr last: {err.decode(errors='replace').strip()})")
    # subunit2csv writes its CSV while it reads: the stream of a whole API run (megabytes) goes in while the CSV is
    # drained (communicate), not written first as run_command does, which filled both pipes and hung for ever.
    # subunit2csv exits 1 when the run had failures: the CSV is complete either way.
    done = subprocess.run([os.path.join(bin_dir, "subunit2csv")], input=stream, capture_output=True, check=False)
    rc, text, err = done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if rc not in (0, 1) or not text.startswith("test,status"):
        module.fail_json(msg=f"subunit2csv could not read the run of {workspace}: {err.strip()}")
    module.exit_json(changed=False, **summarize(text))


if __name__ == "__main__":
    main()
