# Managed by ciab.box.ceph (ceph_mgr_shims): stand-in for python3-bcrypt inside ceph-mgr.
#
# ceph-mgr runs every module in its own Python sub-interpreter. Debian 13's python3-bcrypt is a PyO3 extension,
# and PyO3 refuses to load in sub-interpreters ("PyO3 modules do not yet support subinterpreters"). mgr_util
# imports bcrypt at the top, so without this file pg_autoscaler, rbd_support, status, crash, progress and other
# modules fail to load (health MGR_MODULE_DEPENDENCY). This module sits on ciab's mgr module path, which comes
# before dist-packages, lets them load, and fails only when something really hashes a password (the dashboard,
# which ciab does not enable).
"""Stand-in for bcrypt in ceph-mgr: importable, unusable."""


def __getattr__(name):
    raise ImportError(
        f"bcrypt.{name} is unavailable inside ceph-mgr: python3-bcrypt (PyO3) cannot load in sub-interpreters; "
        "see /usr/local/lib/ciab/ceph-mgr/bcrypt.py"
    )
