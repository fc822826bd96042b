"""systemd units of the node under test, shared by the scenarios' testinfra checks."""


def running_unit_pid(host, unit):
    """Asserts that ``unit`` runs and is enabled for boot; returns its main PID (a string)."""
    service = host.service(unit)
    assert service.is_running and service.is_enabled, unit
    return host.check_output(f"systemctl show -p MainPID --value {unit}")


def running_unit_user(host, unit):
    """Asserts that ``unit`` runs and is enabled for boot; returns the user its main process runs as."""
    return host.check_output(f"ps -o user= -p {running_unit_pid(host, unit)}")
