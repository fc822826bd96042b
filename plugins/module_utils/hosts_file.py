"""The node's /etc/hosts: its names resolve to exactly one address, the management address.

Installers, cloud-init, DHCP hooks and container runtimes leave lines that map the node's name elsewhere (Debian's
127.0.1.1, Docker's line for whichever network it attached first). Ceph's monitors and RabbitMQ look the name up and
must find the management address. Plain functions; ``plugins/filter/node.py`` is the filter shim.
"""

from __future__ import annotations

from collections.abc import Iterable

from netaddr import AddrFormatError, IPAddress


class HostsError(ValueError):
    """An argument cannot be used; the message names it."""


def _entry(line: str) -> tuple[IPAddress, list[str], str] | None:
    """(address, names, comment with its #) of a hosts line; None for blank, comment-only or unparsable lines."""
    body, hash_, comment = line.partition("#")
    fields = body.split()
    if not fields:
        return None
    try:
        return IPAddress(fields[0]), fields[1:], hash_ + comment
    except (AddrFormatError, ValueError):
        return None  # not ours to judge


def pin_hosts(content: str, address: str, names: Iterable[str]) -> str:
    """Return ``content`` with ``names`` taken off every other address and listed on ``address``.

    Other names on a line stay where they are; a line left without names is dropped. Comments, blank lines and the
    order of the other lines are kept. The line for ``address`` (the first one, where there were several) lists
    ``names`` first (the first is the canonical name), then whatever else it listed before. The result ends with a
    newline.
    """
    if not isinstance(content, str):
        raise HostsError(f"the hosts file content must be a string, got {type(content).__name__}")
    try:
        pinned = IPAddress(str(address).strip())
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise HostsError(f"address {address!r} is not an IP address (set base_mgmt_address to the node's)") from exc
    wanted = [str(n).strip() for n in ([names] if isinstance(names, str) else names) if str(n).strip()]
    if not wanted:
        raise HostsError("names is empty: give the node's host name (base_hostname)")
    drop = {n.lower() for n in wanted}
    out: list[str | None] = []  # None marks where the management line goes
    extra: list[str] = []
    for line in content.splitlines():
        entry = _entry(line)
        if entry is None:
            out.append(line)
            continue
        addr, listed, comment = entry
        kept = [n for n in listed if n.lower() not in drop]
        if addr == pinned:
            extra += [n for n in kept if n not in extra]
            if None not in out:
                out.append(None)
        elif kept == listed:
            out.append(line)
        elif kept:
            out.append(" ".join([str(addr), *kept]) + (f" {comment}" if comment else ""))
    if None not in out:
        out.append(None)
    pinned_line = " ".join([str(pinned), *wanted, *extra])
    return "\n".join(pinned_line if line is None else line for line in out) + "\n"
