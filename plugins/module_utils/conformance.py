# Copyright: Cloud-in-a-Box developers
# Apache License 2.0 (see LICENSE)
"""Checks of the SCS-compatible IaaS standards, written from the standards' text (SovereignCloudStack/standards).

Each check is a plain function over what the cloud's APIs answered (the JSON documents, so that unit tests use
captured answers) and returns results: one per requirement, each ``met``, ``not met`` or ``not applicable`` with
its reason. A requirement with nothing to check (no image, no flavor, no volume type with SCS aspects) is ``not
applicable``, never ``met``. The live steps (a backup round trip, a secret, the domain manager) are in
plugins/modules/scs_conformance.py, which gathers the documents with openstacksdk as the demo member.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ansible_collections.ciab.box.plugins.module_utils.scs import FlavorNameError, flavor_spec, parse_flavor_name

MET, NOT_MET, NOT_APPLICABLE = "met", "not met", "not applicable"


def result(rid: str, text: str, status: str, reason: str = "", level: str = "mandatory") -> dict[str, str]:
    """One requirement's outcome: its id (the standard's testcase id), what it asks, met/not met/not applicable,
    why, and whether the standard makes it mandatory or recommended."""
    return {"id": rid, "requirement": text, "status": status, "reason": reason, "level": level}


def verdict(problems: list[str], checked: int, what: str) -> tuple[str, str]:
    if not checked:
        return NOT_APPLICABLE, f"no {what} to check"
    if problems:
        return NOT_MET, "; ".join(problems)
    return MET, f"{checked} {what} checked"


# scs-0100: flavor naming
def check_flavor_names(flavors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every flavor named SCS-* follows the naming grammar, and has at least what its name promises."""
    named = [f for f in flavors if str(f.get("name", "")).startswith("SCS-")]
    syntax, semantics = [], []
    for flavor in named:
        try:
            parts = parse_flavor_name(flavor["name"])
        except FlavorNameError as exc:
            syntax.append(str(exc))
            continue
        if flavor.get("vcpus", 0) < parts["cpus"]:
            semantics.append(f"{flavor['name']}: {flavor.get('vcpus')} vCPUs")
        if round(flavor.get("ram", 0) / 1024, 1) < parts["ram_gib"]:
            semantics.append(f"{flavor['name']}: {flavor.get('ram')} MiB RAM")
        if flavor.get("disk", 0) < (parts["disk"] or 0):
            semantics.append(f"{flavor['name']}: {flavor.get('disk')} GB disk")
    return [
        result(
            "scs-0100-syntax-check",
            "SCS flavor names follow the naming grammar",
            *verdict(syntax, len(named), "SCS flavor names"),
        ),
        result(
            "scs-0100-semantics-check",
            "SCS flavors give at least what their names promise",
            *verdict(semantics, len(named) - len(syntax), "SCS flavors"),
        ),
    ]


# scs-0103: standard flavors
def check_standard_flavors(flavors: list[dict[str, Any]], standard: dict[str, list[str]]) -> list[dict[str, str]]:
    """Each standard flavor exists (found by its scs:name-v2 extra spec, else by name) with exactly the vCPUs, RAM,
    disk and scs:* extra specs its name stands for."""
    by_v2 = {str((f.get("extra_specs") or {}).get("scs:name-v2")): f for f in flavors}
    by_name = {f.get("name"): f for f in flavors}
    results = []
    for level in ("mandatory", "recommended"):
        for name in standard.get(level, []):
            want = flavor_spec(name)
            flavor = by_v2.get(name) or by_name.get(name)
            rid = f"scs-0103-flavor-{name[4:].lower()}"
            text = f"standard flavor {name}"
            if flavor is None:
                results.append(result(rid, text, NOT_MET, "no such flavor visible to the user", level))
                continue
            wrong = [
                f"{key} {flavor.get(key)} (want {want[key]})"
                for key in ("vcpus", "ram", "disk")
                if flavor.get(key) != want[key]
            ]
            specs = flavor.get("extra_specs") or {}
            wrong += [
                f"{key}={specs.get(key)!r} (want {value!r})"
                for key, value in want["extra_specs"].items()
                if specs.get(key) != value
            ]
            results.append(result(rid, text, NOT_MET if wrong else MET, "; ".join(wrong) or flavor["name"], level))
    return results


# scs-0101: entropy (what the flavors allow; the guest's own checks need a booted guest)
def check_flavor_rng(flavors: list[dict[str, Any]]) -> dict[str, str]:
    """Every flavor lets its guests have a virtio RNG (extra spec hw_rng:allowed)."""
    without = [f["name"] for f in flavors if str((f.get("extra_specs") or {}).get("hw_rng:allowed")).lower() != "true"]
    return result(
        "scs-0101-flavor-rng",
        "flavors allow a virtio RNG (hw_rng:allowed)",
        *verdict(without, len(flavors), "flavors"),
        level="recommended",
    )


_REPORT = re.compile(r"ciab-guest: (entropy_avail|rng_available|rngtest)\b ?(.*)")


def check_guest_entropy(console: str | None, why: str = "") -> list[dict[str, str]]:
    """The standard's sample-VM tests, from the console of a booted guest that reports them (the box's guest prints
    ``ciab-guest: entropy_avail N``, ``rng_available ...`` and ``rngtest successes N failures N``): entropy_avail
    is 256 (pinned since kernel 5.18), and rngtest counts at most 5 FIPS 140-2 failures in 1000 blocks of
    /dev/random (3 for the strict variant). console None: no guest was booted, ``why`` says why."""
    avail_text = "a sample guest's entropy_avail is 256"
    fips_text = "a sample guest's /dev/random passes rngtest (FIPS 140-2, at most 5 failures in 1000 blocks)"
    if console is None:
        return [
            result("scs-0101-entropy-avail", avail_text, NOT_APPLICABLE, why),
            result("scs-0101-fips-test", fips_text, NOT_APPLICABLE, why),
        ]
    report = {m.group(1): m.group(2).strip() for m in map(_REPORT.search, console.splitlines()) if m}
    rngs = report.get("rng_available") or "none"
    if "entropy_avail" not in report:
        avail = result("scs-0101-entropy-avail", avail_text, NOT_MET, f"the guest did not report it ({why})")
    else:
        value = report["entropy_avail"]
        avail = result(
            "scs-0101-entropy-avail", avail_text, MET if value == "256" else NOT_MET,
            f"{value} (hardware RNGs in the guest: {rngs})",
        )  # fmt: skip
    counts = dict(re.findall(r"(successes|failures) (\d+)", report.get("rngtest", "")))
    if "failures" not in counts:
        fips = result("scs-0101-fips-test", fips_text, NOT_MET, f"rngtest gave no count ({why or 'no output'})")
    else:
        failures = int(counts["failures"])
        strict = "strict test passed" if failures <= 3 else "strict test (at most 3) failed"
        fips = result(
            "scs-0101-fips-test", fips_text, MET if failures <= 5 else NOT_MET,
            f"{failures} failures, {counts.get('successes', '?')} successes; {strict}",
        )  # fmt: skip
    return [avail, fips]


# scs-0102: image metadata
_BUILD_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_FREQUENCIES = {
    "yearly": 365,
    "quarterly": 92,
    "monthly": 31,
    "weekly": 7 * 25 / 24,
    "daily": 25 / 24,
}


def _parse_date(value: Any) -> datetime.datetime | None:
    for fmt in _BUILD_DATE_FORMATS:
        try:
            return datetime.datetime.strptime(str(value), fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    return None


def _image_problems(image: dict[str, Any], now: datetime.datetime) -> dict[str, str]:
    """property -> what is wrong with it, for one image (the mandatory properties of scs-0102)."""
    problems: dict[str, str] = {}

    def need(key: str, ok: bool, why: str) -> None:
        if not ok:
            problems[key] = why

    need("architecture", image.get("architecture") in ("x86_64", "aarch64", "risc-v"), "x86_64, aarch64 or risc-v")
    size_gib = (image.get("size") or 0) / 2**30
    need("min_disk", bool(image.get("min_disk")) and image["min_disk"] >= size_gib, "at least the image's size")
    need("min_ram", bool(image.get("min_ram")), "set (MiB)")
    for key in ("os_version", "os_distro", "image_original_user", "image_description", "provided_until"):
        need(key, bool(str(image.get(key) or "").strip()), "set")
    need("hw_disk_bus", image.get("hw_disk_bus") in (None, "virtio", "scsi"), "virtio or scsi")
    built = _parse_date(image.get("image_build_date"))
    created = _parse_date(str(image.get("created_at", "")).replace("+00:00", "Z"))
    need(
        "image_build_date",
        built is not None and built <= now and (created is None or built <= created),
        "a date (YYYY-MM-DD[ hh:mm[:ss]]) not after the upload",
    )
    source = str(image.get("image_source") or "")
    need(
        "image_source",
        source == "private" or re.match(r"^(https?|ftps?)://", source) is not None,
        "'private' or an http(s)/ftp(s) URL",
    )
    frequency = image.get("replace_frequency")
    need(
        "replace_frequency",
        frequency in (*_FREQUENCIES, "critical_bug", "never"),
        "yearly ... daily, critical_bug or never",
    )
    validity = str(image.get("uuid_validity") or "none")
    need(
        "uuid_validity",
        validity in ("none", "notice", "forever")
        or re.fullmatch(r"last-[0-9]+", validity) is not None
        or _parse_date(validity) is not None,
        "none, notice, forever, last-N or a date",
    )
    if frequency in _FREQUENCIES and built is not None and str(image.get("provided_until")) not in ("none", "notice"):
        age = now - built
        need(
            "image_build_date",
            age <= datetime.timedelta(days=1.1 * _FREQUENCIES[frequency]),
            f"older than its replace_frequency ({frequency}) allows",
        )
    return problems


def check_image_metadata(images: list[dict[str, Any]], now: datetime.datetime | None = None) -> list[dict[str, str]]:
    """Every public or community image carries the mandatory scs-0102 properties with valid values."""
    now = now or datetime.datetime.now(datetime.UTC)
    public = [i for i in images if i.get("visibility") in ("public", "community")]
    problems = {image.get("name") or image.get("id"): _image_problems(image, now) for image in public}
    keys = [
        "architecture",
        "min_disk",
        "min_ram",
        "os_version",
        "os_distro",
        "hw_disk_bus",
        "image_build_date",
        "image_original_user",
        "image_source",
        "image_description",
        "replace_frequency",
        "provided_until",
        "uuid_validity",
    ]
    results = []
    for key in keys:
        bad = [f"{name}: {found[key]}" for name, found in problems.items() if key in found]
        results.append(
            result(f"scs-0102-prop-{key}", f"public images have {key}", *verdict(bad, len(public), "public images"))
        )
    recommended = [
        ("hash_algo", lambda i: i.get("os_hash_algo") in ("sha256", "sha512"), "sha256 or sha512"),
        (
            "hypervisor_type",
            lambda i: i.get("hypervisor_type") in (None, "qemu", "kvm", "xen", "hyper-v", "esxi"),
            "qemu, kvm, ...",
        ),
        ("hw_rng_model", lambda i: i.get("hw_rng_model") in (None, "virtio"), "virtio or unset"),
        (
            "os_purpose",
            lambda i: (
                i.get("os_purpose") in ("generic", "oldgeneric", "minimal", "k8snode", "gpu", "network", "custom")
            ),
            "generic, minimal, k8snode, ...",
        ),
    ]
    for key, ok, want in recommended:
        bad = [f"{i.get('name')}: {want}" for i in public if not ok(i)]
        results.append(
            result(
                f"scs-0102-prop-{key}",
                f"public images have {key}",
                *verdict(bad, len(public), "public images"),
                level="recommended",
            )
        )
    generic: dict[tuple[Any, ...], list[str]] = {}
    for image in public:
        if image.get("os_purpose") == "generic" and not image.get("os_hidden"):
            generic.setdefault((image.get("architecture"), image.get("os_distro"), image.get("os_version")), []).append(
                str(image.get("name"))
            )
    doubles = [f"{', '.join(names)} share {key}" for key, names in generic.items() if len(names) > 1]
    results.append(
        result(
            "scs-0102-os_purpose-uniqueness",
            "one visible generic image per OS and version",
            *verdict(doubles, len(generic), "generic images"),
            level="recommended",
        )
    )
    return results


# scs-0104: standard images
def check_standard_images(images: list[dict[str, Any]], standard: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The mandatory (and recommended) standard images exist, and every standard image present names its official
    source (image_source starts with one of the standard's addresses)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for image in images:
        by_name.setdefault(str(image.get("name")), []).append(image)
    results = []
    for spec in standard:
        pattern = re.compile(spec["name_scheme"]) if spec.get("name_scheme") else None
        found = [
            i for n, group in by_name.items() for i in group if (pattern.match(n) if pattern else n == spec["name"])
        ]
        slug = re.sub(r"[^a-z0-9]+", "-", spec["name"].lower()).strip("-")
        if spec.get("status") in ("mandatory", "recommended"):
            status, reason = (MET, f"{len(found)} image(s)") if found else (NOT_MET, "not registered")
            results.append(
                result(f"scs-0104-image-{slug}", f"standard image {spec['name']}", status, reason, spec["status"])
            )
        wrong = [
            f"{i.get('name')}: image_source {i.get('image_source')!r}"
            for i in found
            if not any(str(i.get("image_source") or "").startswith(prefix) for prefix in spec.get("source", []))
        ]
        results.append(
            result(
                f"scs-0104-source-{slug}",
                f"{spec['name']} names its official source",
                *verdict(wrong, len(found), f"images named {spec['name']}"),
            )
        )
    return results


# scs-0114: volume types
_ASPECTS = re.compile(r"^\[scs:([^\[\]]*)\]")


def _aspects(vtype: dict[str, Any]) -> list[str] | None:
    match = _ASPECTS.match(str(vtype.get("description") or ""))
    return [a.strip() for a in match.group(1).split(",")] if match else None


def check_volume_types(types: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Volume types that describe SCS aspects do it as '[scs:aspect, ...]' at the start of the description (sorted,
    only encrypted and replicated); one encrypted and one replicated type are recommended."""
    tagged = {str(t.get("name")): names for t in types if (names := _aspects(t)) is not None}
    wrong = [
        f"{name}: [scs:{', '.join(names)}]"
        for name, names in tagged.items()
        if names != sorted(set(names)) or not set(names) <= {"encrypted", "replicated"}
    ]
    results = [
        result(
            "scs-0114-syntax-check",
            "volume type aspects are written [scs:encrypted, replicated]",
            *verdict(wrong, len(tagged), "volume types with SCS aspects"),
        )
    ]
    for aspect in ("encrypted", "replicated"):
        hit = [name for name, names in tagged.items() if aspect in names]
        results.append(
            result(
                f"scs-0114-{aspect}-type",
                f"a volume type with the {aspect} aspect",
                MET if hit else NOT_MET,
                ", ".join(hit) or f"no type says [scs:{aspect}]",
                "recommended",
            )
        )
    return results


# scs-0115: default security group rules
def check_default_security_group_rules(rules: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The default security group template lets nothing in (but traffic from the same group) and everything out,
    over IPv4 and IPv6, in the default and in new groups."""
    problems = []
    for rule in rules:
        if rule.get("direction") == "ingress" and not (
            rule.get("remote_group_id") == "PARENT" and not rule.get("used_in_non_default_sg")
        ):
            problems.append(
                f"ingress rule {rule.get('id')} ({rule.get('protocol') or 'any'} from "
                f"{rule.get('remote_ip_prefix') or rule.get('remote_group_id') or 'anywhere'})"
            )
    for ethertype in ("IPv4", "IPv6"):
        egress = [
            r
            for r in rules
            if r.get("direction") == "egress" and r.get("ethertype") == ethertype and not r.get("remote_ip_prefix")
        ]
        for where in ("used_in_default_sg", "used_in_non_default_sg"):
            if not any(r.get(where) for r in egress):
                problems.append(f"no {ethertype} egress rule {where}")
    return [
        result(
            "scs-0115-default-rules",
            "default security groups: ingress closed, egress open",
            *verdict(problems, len(rules), "default security group rules"),
        )
    ]


# scs-0123: mandatory services
SERVICES_V1 = ["compute", "identity", "image", "network", "load-balancer", "placement", "block-storage"]
SERVICES_V2 = ["compute", "identity", "image", "network", "load-balancer", "block-storage", "object-store-s3"]
_BLOCK_STORAGE = ("volume", "volumev3", "block-storage")


def has_service(catalog_types: list[str], service: str) -> bool:
    """Whether the catalog has the service; block storage under any of its three types."""
    if service == "block-storage":
        return bool(set(catalog_types) & set(_BLOCK_STORAGE))
    return service in catalog_types


def check_services(catalog_types: list[str]) -> list[dict[str, str]]:
    """The service types the standard makes mandatory are in the member's catalog (v1: v5.1 of the certificate;
    v2: the draft, which adds object-store-s3 and drops placement)."""
    results = []
    for service in dict.fromkeys(SERVICES_V1 + SERVICES_V2):
        present = has_service(catalog_types, service)
        versions = (
            "v1, v2"
            if service in SERVICES_V1 and service in SERVICES_V2
            else ("v1" if service in SERVICES_V1 else "v2")
        )
        results.append(
            result(
                f"scs-0123-service-{service}",
                f"{service} in the catalog ({versions})",
                MET if present else NOT_MET,
                "" if present else "not in the member's catalog",
            )
        )
    return results


def check_s3_answer(status: int | None, body: str) -> dict[str, str]:
    """scs-0123 swift-s3: the object store's S3 API refuses an unknown access key the way S3 does."""
    if status is None:
        return result(
            "scs-0123-swift-s3", "the object store speaks S3", NOT_APPLICABLE, "no object-store in the catalog"
        )
    if "InvalidAccessKeyId" in body or "NoSuchKey" in body:
        return result("scs-0123-swift-s3", "the object store speaks S3", MET, f"HTTP {status}, InvalidAccessKeyId")
    return result("scs-0123-swift-s3", "the object store speaks S3", NOT_MET, f"HTTP {status}: {body[:120]}")
