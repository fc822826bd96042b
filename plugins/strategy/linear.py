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
  - A play that starts background jobs (C(async) with C(poll: 0)) runs as C(ansible.builtin.linear): Mitogen's
    C(async_status) never sees such jobs finish (Molecule's create and destroy).
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
    _Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)

    def _tasks(blocks):
        for block in blocks:
            for item in block.block + block.rescue + block.always:
                if hasattr(item, "block"):
                    yield from _tasks([item])
                else:
                    yield item

    def _starts_background_jobs(play) -> bool:
        return any(task.async_val and not task.poll for task in _tasks(play.compile()))

    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
        def run(self, iterator, play_context, result=0):
            if _starts_background_jobs(iterator._play):
                return _Linear.run(self, iterator, play_context)
            return super().run(iterator, play_context, result)
