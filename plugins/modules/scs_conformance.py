#!/usr/bin/python
# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: scs_conformance
short_description: Check a cloud against the SCS-compatible IaaS standards, as a member user
version_added: "0.1.0"
description:
  - Reads, as the member user of O(cloud), what the standards of the SCS-compatible IaaS certificate look at
    (flavors, public images, volume types, default security group rules, the service catalog) and judges it with
    the checks of plugins/module_utils/conformance.py, written from the standards' text.
  - With O(live), also exercises what the standards make mandatory, a sample guest's entropy (scs-0101, read from
    its console), a volume backed up and restored (scs-0117), a secret stored, listed and deleted (scs-0116), the
    object store's S3 answer (scs-0123), and with
    O(manager_cloud) the domain manager persona (scs-0302) both ways. Everything it makes is deleted again.
  - Returns one result per requirement, C(met), C(not met) or C(not applicable) with the reason; a requirement with
    nothing to check is C(not applicable), never C(met). Never fails because a requirement is not met.
  - Runs with a Python that has openstacksdk (the box's client venv) and reads clouds.yaml as openstacksdk does.
author:
  - Cloud-in-a-Box developers
options:
  cloud:
    description:
      - The member user's cloud in clouds.yaml. Its token must carry the member role and neither admin nor
        manager (the standards' tests run as a plain tenant).
    type: str
    required: true
  manager_cloud:
    description: A domain manager's cloud (the manager role on its domain, domain-scoped) for scs-0302.
    type: str
  flavors:
    description: The standard flavors by name (scs-0103).
    type: dict
    required: true
    suboptions:
      mandatory: {description: Mandatory standard flavors., type: list, elements: str, default: []}
      recommended: {description: Recommended standard flavors., type: list, elements: str, default: []}
  images:
    description: The standard images (scs-0104) with their status and source addresses.
    type: list
    elements: dict
    required: true
  live:
    description:
      - Also make (and delete) a volume, its backup, a secret, the domain manager's test objects and a server of
        O(sample_image) for the entropy tests (scs-0101).
    type: bool
    default: true
  sample_image:
    description:
      - The public image of the entropy tests' sample guest. It must print C(ciab-guest: entropy_avail N) and
        C(ciab-guest: rngtest successes N failures N) to its console, as the box's guest does.
    type: str
    default: ciab-guest
  sample_flavor:
    description: The flavor of the sample guest (one that allows the virtio RNG).
    type: str
    default: SCS-1L-1-5
  sample_timeout:
    description: Seconds to wait, once the server is active, for its report on the console.
    type: int
    default: 300
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: SCS conformance of the box, as the demo member
  ciab.box.scs_conformance:
    cloud: ciab-demo
    manager_cloud: ciab-demo-manager
    flavors: "{{ ciab_scs_flavors }}"
    images: "{{ ciab_scs_images }}"
  vars:
    ansible_python_interpreter: /opt/ciab/openstack/2026.2/client/bin/python
"""

RETURN = r"""
results:
  description: One entry per requirement, in the order of the standards.
  type: list
  elements: dict
  returned: success
  contains:
    id: {description: The standard's testcase id., type: str, sample: scs-0103-flavor-1v-4}
    requirement: {description: What it asks., type: str}
    status: {description: met, not met or not applicable., type: str}
    reason: {description: Why., type: str}
    level: {description: mandatory or recommended., type: str}
"""

import contextlib
import time
import traceback
from email.utils import formatdate
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.ciab.box.plugins.module_utils import conformance as c

try:
    import openstack
except ImportError:
    openstack = None
    SDK_ERROR = traceback.format_exc()

ARGUMENT_SPEC = {
    "cloud": {"type": "str", "required": True},
    "manager_cloud": {"type": "str"},
    "flavors": {
        "type": "dict",
        "required": True,
        "options": {
            "mandatory": {"type": "list", "elements": "str", "default": []},
            "recommended": {"type": "list", "elements": "str", "default": []},
        },
    },
    "images": {"type": "list", "elements": "dict", "required": True},
    "live": {"type": "bool", "default": True},
    "sample_image": {"type": "str", "default": "ciab-guest"},
    "sample_flavor": {"type": "str", "default": "SCS-1L-1-5"},
    "sample_timeout": {"type": "int", "default": 300},
}


def _json(response, key):
    return response.json().get(key, [])


def _wait(fetch, want, what, timeout=300):
    """Poll fetch() until its status is want; a status of error (or the timeout) raises with what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        status = fetch().status
        if status == want:
            return
        if status.startswith("error") or time.monotonic() > deadline:
            raise RuntimeError(f"{what} is {status}, not {want}")
        time.sleep(2)


def backup_round_trip(conn, prefix):
    """scs-0117: a 1 GB volume, backed up and restored to a new volume, as the member."""
    bs, made = conn.block_storage, []
    try:
        volume = bs.create_volume(name=f"{prefix}-volume", size=1)
        made.append(("volume", volume.id))
        _wait(lambda: bs.get_volume(volume.id), "available", f"volume {volume.id}")
        backup = bs.create_backup(volume_id=volume.id, name=f"{prefix}-backup")
        made.append(("backup", backup.id))
        _wait(lambda: bs.get_backup(backup.id), "available", f"backup {backup.id}")
        restored = bs.restore_backup(backup.id, name=f"{prefix}-restored")
        restored_id = restored.volume_id if hasattr(restored, "volume_id") else restored["volume_id"]
        made.append(("volume", restored_id))
        _wait(lambda: bs.get_volume(restored_id), "available", f"restored volume {restored_id}")
        return c.MET, f"volume {volume.id} backed up ({backup.id}) and restored ({restored_id})"
    finally:
        for kind, ident in reversed(made):  # best effort: the result is decided
            with contextlib.suppress(Exception):
                if kind == "backup":
                    bs.delete_backup(ident, ignore_missing=True)
                    _wait_gone(lambda ident=ident: bs.find_backup(ident))
                else:
                    _wait_gone(lambda ident=ident: _deletable(bs, ident))
                    bs.delete_volume(ident, ignore_missing=True)


def _wait_gone(find, tries=60):
    """Wait until find() returns None (a backup deleted; a volume no longer busy)."""
    for _ in range(tries):
        if find() is None:
            return
        time.sleep(2)


def _deletable(bs, ident):
    """None when the volume is gone or may be deleted (available, error), else the volume."""
    volume = bs.find_volume(ident)
    return None if volume is None or volume.status in ("available", "error") else volume


def sample_guest(conn, prefix, params):
    """scs-0101: a server of the sample image (a guest that prints its entropy report to the console) on the sample
    flavor, without a network, booted as the member; its console is read until the report is complete."""
    image = conn.image.find_image(params["sample_image"])
    flavor = conn.compute.find_flavor(params["sample_flavor"])
    if image is None or flavor is None:
        missing = params["sample_image"] if image is None else params["sample_flavor"]
        return c.check_guest_entropy(None, f"no sample guest: {missing} is not visible to the member")
    server = conn.compute.create_server(
        name=f"{prefix}-entropy", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    console, why = "", ""
    try:
        _wait(lambda: conn.compute.get_server(server.id), "ACTIVE", f"server {server.id}")
        deadline = time.monotonic() + params["sample_timeout"]
        while "ciab-guest: rngtest" not in console:
            if time.monotonic() > deadline:
                why = f"server {server.id}: no complete report on its console in {params['sample_timeout']} s"
                break
            time.sleep(3)
            console = conn.compute.get_server_console_output(server.id).get("output") or ""
        return c.check_guest_entropy(console, why or f"server {server.id} of {image.name} on {flavor.name}")
    finally:
        with contextlib.suppress(Exception):  # best effort: the result is decided
            conn.compute.delete_server(server.id, ignore_missing=True)


def secret_round_trip(conn, prefix):
    """scs-0116: the member stores, lists, reads and deletes a secret."""
    km = conn.key_manager
    secret = km.create_secret(
        name=f"{prefix}-secret", payload="ciab", payload_content_type="text/plain", secret_type="opaque"
    )
    try:
        listed = [s.secret_ref for s in km.secrets(name=f"{prefix}-secret")]
        payload = km.get_secret(secret.secret_ref.rsplit("/", 1)[-1]).payload
        if secret.secret_ref not in listed or payload != "ciab":
            return c.NOT_MET, f"stored, but listed {listed} and read back {payload!r}"
        return c.MET, "stored, listed, read back and deleted"
    finally:
        km.delete_secret(secret.secret_ref.rsplit("/", 1)[-1], ignore_missing=True)


def domain_manager(conn, prefix):
    """scs-0302: a domain manager manages users, projects and role assignments in its own domain, and nothing
    outside it (another domain's users and projects; the admin role)."""
    identity = conn.identity
    own = conn.session.auth.get_access(conn.session).domain_id
    results, made = [], []
    try:
        project = identity.create_project(name=f"{prefix}-project", domain_id=own)
        made.append(("project", project.id))
        user = identity.create_user(name=f"{prefix}-user", domain_id=own, password=prefix)
        made.append(("user", user.id))
        member = identity.find_role("member")
        identity.assign_project_role_to_user(project, user, member)
        listed = {u.id for u in identity.users(domain_id=own)}
        ok = user.id in listed and identity.validate_user_has_project_role(project, user, member)
        results.append(
            c.result(
                "scs-0302-own-domain",
                "a domain manager manages users, projects and member roles in its domain",
                c.MET if ok else c.NOT_MET,
                "created a project and a user, gave the user member on it, listed the domain's users"
                if ok
                else "the new user or its role assignment is not there",
            )
        )
        # Raw requests: the SDK's role assignment calls do not raise on 403. A refusal is 403 (or 404 for what the
        # manager cannot see); a list of another domain's users may also come back empty.
        admin = identity.find_role("admin")
        attempts = (
            ("create a project in the Default domain", identity.post, "/projects",
             {"project": {"name": f"{prefix}-x", "domain_id": "default"}}),
            ("create a user in the Default domain", identity.post, "/users",
             {"user": {"name": f"{prefix}-x", "domain_id": "default"}}),
            ("give the admin role in its domain", identity.put,
             f"/projects/{project.id}/users/{user.id}/roles/{admin.id}", None),
        )  # fmt: skip
        outside = []
        for what, method, path, body in attempts:
            response = method(path, json=body) if body else method(path)
            if response.status_code not in (403, 404):
                outside.append(f"could {what} (HTTP {response.status_code})")
        response = identity.get("/users?domain_id=default")
        foreign = [u["name"] for u in response.json().get("users", []) if u.get("domain_id") != own]
        if response.status_code == 200 and foreign:
            outside.append(f"could list the Default domain's users ({', '.join(foreign[:3])})")
        results.append(
            c.result(
                "scs-0302-nothing-outside",
                "a domain manager can do nothing outside its domain, nor give the admin role",
                c.NOT_MET if outside else c.MET,
                "; ".join(outside)
                or "refused: projects and users in the Default domain, its user list, the admin role",
            )
        )
    finally:
        for kind, ident in reversed(made):  # best effort
            with contextlib.suppress(Exception):
                (identity.delete_user if kind == "user" else identity.delete_project)(ident, ignore_missing=True)
    return results


def s3_answer(conn, catalog):
    if "object-store" not in catalog:
        return c.check_s3_answer(None, "")
    parts = urlsplit(conn.endpoint_for("object-store"))
    response = conn.session.get(
        f"{parts.scheme}://{parts.netloc}/",
        # a signed request (S3's v2 scheme needs a date) of an access key nobody has
        headers={"Authorization": "AWS doesnotexist:c2lnbmF0dXJl", "Date": formatdate(usegmt=True)},
        authenticated=False,
        raise_exc=False,
    )
    return c.check_s3_answer(response.status_code, response.text)


def run(module, conn):
    access = conn.session.auth.get_access(conn.session)
    roles = set(access.role_names)
    if "member" not in roles or roles & {"admin", "manager"}:
        module.fail_json(
            msg=f"cloud {module.params['cloud']}: its token has the roles {sorted(roles)}; the standards' checks run "
            "as a member without admin or manager (give cloud a member user's cloud, e.g. the demo user's)"
        )
    catalog = sorted({service["type"] for service in access.service_catalog.catalog})
    flavors = _json(conn.compute.get("/flavors/detail", microversion="2.61"), "flavors")
    images = []
    for visibility in ("public", "community"):
        for hidden in ("false", "true"):
            images += _json(conn.image.get(f"/images?visibility={visibility}&os_hidden={hidden}&limit=1000"), "images")
    prefix = f"ciab-conformance-{int(time.time())}"
    results = c.check_flavor_names(flavors) + c.check_standard_flavors(flavors, module.params["flavors"])
    results.append(c.check_flavor_rng(flavors))
    results += (
        sample_guest(conn, prefix, module.params)
        if module.params["live"]
        else c.check_guest_entropy(None, "live checks off")
    )
    results += c.check_image_metadata(images) + c.check_standard_images(images, module.params["images"])
    block_storage = c.has_service(catalog, "block-storage")
    if block_storage:
        results += c.check_volume_types(_json(conn.block_storage.get("/types"), "volume_types"))
    else:
        results.append(c.result("scs-0114-syntax-check", "volume types", c.NOT_APPLICABLE, "no block storage"))
    results += c.check_default_security_group_rules(
        _json(conn.network.get("/default-security-group-rules"), "default_security_group_rules")
    )
    results += c.check_services(catalog)
    live = module.params["live"]
    if "key-manager" not in catalog:
        results.append(
            c.result("scs-0116-presence", "key-manager in the catalog", c.NOT_MET, "no key-manager", "recommended")
        )
        results.append(c.result("scs-0116-permissions", "a member stores secrets", c.NOT_APPLICABLE, "no key-manager"))
    else:
        results.append(c.result("scs-0116-presence", "key-manager in the catalog", c.MET, "", "recommended"))
        results.append(
            c.result("scs-0116-permissions", "a member stores secrets", *secret_round_trip(conn, prefix))
            if live
            else c.result("scs-0116-permissions", "a member stores secrets", c.NOT_APPLICABLE, "live checks off")
        )
    backups = block_storage and live
    results.append(
        c.result("scs-0117-test-backup", "a member backs a volume up and restores it", *backup_round_trip(conn, prefix))
        if backups
        else c.result("scs-0117-test-backup", "volume backup", c.NOT_APPLICABLE, "no block storage or live checks off")
    )
    results.append(s3_answer(conn, catalog))
    if module.params["manager_cloud"] and live:
        results += domain_manager(openstack.connect(cloud=module.params["manager_cloud"]), prefix)
    else:
        why = "live checks off" if module.params["manager_cloud"] else "no manager_cloud given"
        results.append(c.result("scs-0302-own-domain", "domain manager", c.NOT_APPLICABLE, why))
    return results


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=False)
    if openstack is None:
        module.fail_json(msg=missing_required_lib("openstacksdk"), exception=SDK_ERROR)
    try:
        conn = openstack.connect(cloud=module.params["cloud"])
        results = run(module, conn)
    except Exception as exc:  # the module reports what broke, with the cloud's name
        module.fail_json(msg=f"cloud {module.params['cloud']}: {exc}", exception=traceback.format_exc())
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
