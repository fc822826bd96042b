"""ciab.box.base's entry point `certificate` on the controller: the box's CA made once (key 0600), a node certificate
it signs with its addresses as IP and its names as DNS entries, nothing changed by a re-run, a new certificate (by
the same CA) when the names change; a client certificate (clientAuth) that OpenSSL accepts as an SSL client's."""

import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ciab import runner

ROLE_PLAY = "role"


@pytest.fixture
def box(tmp_path, local_inventory):
    return local_inventory, tmp_path / "pki"


def _certificate(tmp_path, inv, pki, name, names, **more):
    extravars = {"ciab_role": "ciab.box.base", "ciab_role_tasks": "certificate", "ciab_pki_dir": str(pki),
                 "ciab_plan_dir": str(tmp_path / "plan"),
                 "__base_certificate": {"name": name, "names": names, **more}}  # fmt: skip
    result = runner.run(ROLE_PLAY, inventory=inv, extravars=extravars)
    assert result.ok, result.failures
    return result


def _load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_signs_a_node_certificate_with_its_addresses_and_names(tmp_path, box):
    inv, pki = box
    _certificate(tmp_path, inv, pki, "testbox", ["192.0.2.10", "testbox.example", "testbox", "192.0.2.10", ""])
    assert oct(pki.stat().st_mode & 0o777) == "0o700"
    assert oct((pki / "ca.key").stat().st_mode & 0o777) == "0o600"
    assert oct((pki / "testbox.key").stat().st_mode & 0o777) == "0o600"
    ca, cert = _load(pki / "ca.crt"), _load(pki / "testbox.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "192.0.2.10"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.10")]
    assert san.get_values_for_type(x509.DNSName) == ["testbox.example", "testbox"]  # once each, "" left out
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_a_rerun_changes_nothing_and_new_names_get_a_new_certificate_of_the_same_ca(tmp_path, box):
    inv, pki = box
    _certificate(tmp_path, inv, pki, "testbox", ["192.0.2.10", "testbox"])
    ca, first = (pki / "ca.crt").read_bytes(), _load(pki / "testbox.crt")
    assert _certificate(tmp_path, inv, pki, "testbox", ["192.0.2.10", "testbox"]).changed == 0
    assert _load(pki / "testbox.crt").serial_number == first.serial_number

    _certificate(tmp_path, inv, pki, "testbox", ["192.0.2.10", "testbox", "cloud.example"])
    renewed = _load(pki / "testbox.crt")
    assert renewed.serial_number != first.serial_number
    assert "cloud.example" in renewed.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert (pki / "ca.crt").read_bytes() == ca


def test_a_client_certificate_is_accepted_for_a_tls_client_not_a_server(tmp_path, box):
    """What a node presents to a controller service that checks its peers (RabbitMQ, OVN's southbound database)."""
    inv, pki = box
    _certificate(tmp_path, inv, pki, "testbox-client", ["testbox"], usage=["clientAuth"])
    usage = _load(pki / "testbox-client.crt").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    def verify(purpose):
        argv = ["openssl", "verify", "-purpose", purpose, "-CAfile", pki / "ca.crt", pki / "testbox-client.crt"]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    assert verify("sslclient").returncode == 0, verify("sslclient").stderr
    assert verify("sslserver").returncode != 0
    # the usage is part of the request: a certificate of another usage is made anew
    first = _load(pki / "testbox-client.crt").serial_number
    _certificate(tmp_path, inv, pki, "testbox-client", ["testbox"], usage=["serverAuth", "clientAuth"])
    assert _load(pki / "testbox-client.crt").serial_number != first
