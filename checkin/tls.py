"""TLS for `checkin serve --https`: the operator's certificate and key, or a local CA kept in the data folder
that signs a server certificate for this machine's LAN addresses and names.

Phones give the camera only to HTTPS pages. Without a certificate from the operator we make our own CA
once (data/tls/ca.crt and ca.key), which ushers install from the /ca page, and a server certificate for the
addresses the laptop has today; it is re-issued when the addresses change (a new venue network) or it nears
its end. The CA is name-constrained to private addresses and local names, so a copy of its key cannot be
used to impersonate a public web site to the phones that trust it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .settings import Settings, SettingsError

CA_DAYS = 3650
# Apple refuses TLS server certificates valid for more than 825 days; 397 also satisfies browsers' public rules.
SERVER_DAYS = 397
RENEW_BEFORE = timedelta(days=30)
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "::1/128", "fc00::/7", "fe80::/10",
))


@dataclass(frozen=True, slots=True)
class LocalCA:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"


def local_ca(settings: Settings) -> LocalCA:
    return LocalCA(settings.data_dir / "tls")


def ensure_certificate(settings: Settings, *, names: list[str] | None = None,
                       addresses: list[str] | None = None, now: datetime | None = None) -> tuple[Path, Path]:
    """The certificate and key to serve with: the operator's, or our local CA's server certificate
    for `names` and `addresses` (default: this machine's host names and LAN addresses)."""
    if settings.tls_cert and settings.tls_key:
        for path in (settings.tls_cert, settings.tls_key):
            if not path.is_file():
                raise SettingsError(f"TLS file not found: {path}")
        return settings.tls_cert, settings.tls_key
    now = now or datetime.now(timezone.utc)
    names = names if names is not None else host_names()
    addresses = addresses if addresses is not None else lan_addresses()
    ca = local_ca(settings)
    ca.folder.mkdir(parents=True, exist_ok=True)
    if not (ca.ca_cert.is_file() and ca.ca_key.is_file()):
        _make_ca(ca, names, addresses, now)
    if _server_needs_renewal(ca, names, addresses, now):
        _make_server(ca, names, addresses, now)
    return ca.server_cert, ca.server_key


def host_names() -> list[str]:
    host = socket.gethostname().strip().lower()
    found = ["localhost"]
    if host and host != "localhost":
        found += [host] if "." in host else [host, f"{host}.local"]
    return found


def lan_addresses() -> list[str]:
    """This machine's addresses that phones may reach: the default route's source address, the host
    name's addresses, and the loopback ones."""
    found: list[str] = []
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))  # UDP connect sends nothing; it only picks the outgoing address
                found.append(sock.getsockname()[0])
        except OSError:
            pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.append(info[4][0])
    except OSError:
        pass
    found += ["127.0.0.1", "::1"]
    result = []
    for raw in found:
        try:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
        except ValueError:
            continue
        if not address.is_unspecified and str(address) not in result:
            result.append(str(address))
    return result


def phone_addresses() -> list[str]:
    """The LAN addresses a phone could open, IPv4 first, loopback left out."""
    usable = [a for a in lan_addresses() if not ipaddress.ip_address(a).is_loopback
              and not ipaddress.ip_address(a).is_link_local]
    return sorted(usable, key=lambda a: (ipaddress.ip_address(a).version, a))


def ca_fingerprint(path: Path) -> str:
    """SHA-256 of the CA certificate, as phones show it ('AB:CD:...')."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def ca_der(path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


# --- making certificates ---------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    # 0600 from the start: the keys are never readable by other users, not even briefly.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _subject_alt_names(names: list[str], addresses: list[str]):
    from cryptography import x509

    return [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]


def _make_ca(ca: LocalCA, names: list[str], addresses: list[str], now: datetime) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _key()
    host = socket.gethostname() or "checkin"
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "checkin"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"checkin local CA ({host[:40]})"),
    ])
    networks = list(PRIVATE_NETWORKS)
    for a in addresses:  # a venue that hands out public addresses still gets a usable CA
        net = ipaddress.ip_network(a)
        if not any(net.subnet_of(p) for p in networks if p.version == net.version):
            networks.append(net)
    permitted = [x509.DNSName("localhost"), x509.DNSName("local"), x509.DNSName("lan"), x509.DNSName("home.arpa")]
    permitted += [x509.DNSName(n) for n in names if n not in ("localhost",) and not n.endswith(".local")]
    permitted += [x509.IPAddress(n) for n in networks]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca.ca_key, _key_pem(key))
    ca.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.server_cert.unlink(missing_ok=True)  # signed by an earlier CA, if any


def _server_needs_renewal(ca: LocalCA, names: list[str], addresses: list[str], now: datetime) -> bool:
    from cryptography import x509

    if not (ca.server_cert.is_file() and ca.server_key.is_file()):
        return True
    cert = x509.load_pem_x509_certificate(ca.server_cert.read_bytes())
    issuer = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    if cert.issuer != issuer.subject or cert.not_valid_after_utc - RENEW_BEFORE < now:
        return True
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = set(san.get_values_for_type(x509.DNSName)) | {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return not set(names) | set(addresses) <= have


def _make_server(ca: LocalCA, names: list[str], addresses: list[str], now: datetime) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = serialization.load_pem_private_key(ca.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1] if names else "checkin")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_alt_names(names, addresses)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(ca.server_key, _key_pem(key))
    ca.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
