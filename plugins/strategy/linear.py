# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: linear
short_description: Ansible's linear strategy, run through Mitogen when it is installed
version_added: "0.1.0"
description:
  - The same task order as C(ansible.builtin.linear). With the C(mitogen) Python package installed (a dependency
    of the C(ciab) package), connections of the types C(ssh), C(docker) and C(local) are Mitogen's: one Python
    process per host stays up for the whole run and modules run in it, instead of a new process (and a new
    C(docker exec) or SSH channel) per task.
  - Without C(mitogen) it is C(ansible.builtin.linear), with a warning.
  - C(ANSIBLE_STRATEGY=linear) turns Mitogen off for one run.
author:
  - Cloud-in-a-Box developers
"""

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule as _Linear
    from ansible.utils.display import Display

    class StrategyModule(_Linear):
        def __init__(self, tqm):
            Display().warning("ciab.box.linear: the Python package mitogen is missing; running without it (slower)")
            super().__init__(tqm)

else:

    class StrategyModule(
        ansible_mitogen.strategy.StrategyMixin,
        ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True),
    ):
        pass
