# Managed by ciab.box.ceph (ceph_mgr_shims): Debian's mgr_module, with a NOTIFY_TYPES default on MgrModule.
#
# Reef's ceph-mgr reads NOTIFY_TYPES from every module class; most modules do not define it and 18.2's MgrModule
# has no default. The manager logs the AttributeError and goes on, but under Python 3.13 the exception stays
# pending, so the next step (looking up the module's standby class) fails with "Module not found: 'mgr_module'"
# and writes a crash report for every such module at every manager start. ceph-crash posts them and the cluster
# sits at HEALTH_WARN (RECENT_MGR_MODULE_CRASH) for two weeks. An empty list is what a missing NOTIFY_TYPES means
# to the manager (the module gets no notifications), so this changes nothing but the stray exception.
"""Load /usr/share/ceph/mgr/mgr_module.py as mgr_module and give MgrModule an empty NOTIFY_TYPES."""

import importlib.util
import sys

_spec = importlib.util.spec_from_file_location("mgr_module", "/usr/share/ceph/mgr/mgr_module.py")
_module = importlib.util.module_from_spec(_spec)
sys.modules["mgr_module"] = _module
_spec.loader.exec_module(_module)
if not hasattr(_module.MgrModule, "NOTIFY_TYPES"):
    _module.MgrModule.NOTIFY_TYPES = []
