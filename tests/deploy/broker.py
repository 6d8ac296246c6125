"""The production broker config under test: certificates, credentials, a running broker.

``production_config`` rewrites deploy/mosquitto/mosquitto.conf for a test and nothing
else: the listeners' ports (on loopback), the paths of persistence, certificates,
password file and log, and the user (as the tests' own, so the private directory is
writable: the production value, ``mosquitto``, cannot write it). The ACL is the deployed
file itself. Every rewritten line must be found as the production file spells it, so a
changed config fails here instead of going untested.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY / "deploy"
CONFIG = DEPLOY / "mosquitto" / "mosquitto.conf"
ACL = DEPLOY / "mosquitto" / "acl"
PROVISION = DEPLOY / "provision-gateway"
# The services' broker users and the passwords the tests give them.
SERVICE_PASSWORDS = {"ingest": "ingest-secret", "api": "api-secret"}
# A certificate is valid this long: the test's lifetime, with room.
_CERTIFICATE_DAYS = "2"


@dataclass(frozen=True, slots=True, kw_only=True)
class Certificates:
    ca: Path
    certificate: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA, and a server certificate it signed for localhost and 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    key, request = directory / "broker.key", directory / "broker.csr"
    certificate = directory / "broker.crt"
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-subj", "/CN=telecare test CA",
             "-days", _CERTIFICATE_DAYS)  # fmt: skip
    _openssl("req", "-new", *ec, "-keyout", key, "-out", request, "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", certificate, "-days", _CERTIFICATE_DAYS, "-extfile", extensions)  # fmt: skip
    return Certificates(ca=ca, certificate=certificate, key=key)


def add_service_users(password_file: Path) -> None:
    """Hash the services' users into ``password_file`` (mosquitto_passwd -U), appending."""
    plain = password_file.with_name("services.plain")
    plain.write_text("".join(f"{user}:{pw}\n" for user, pw in SERVICE_PASSWORDS.items()))
    subprocess.run(["mosquitto_passwd", "-U", str(plain)], check=True, capture_output=True)
    with password_file.open("a") as passwords:
        passwords.write(plain.read_text())
    plain.unlink()


def provision(gateway_id: str, *, directory: Path, password_file: Path, broker: str,
              ca_file: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run deploy/provision-gateway; its files go to ``directory / gateway_id``."""
    command = [str(PROVISION), "--password-file", str(password_file), "--broker", broker,
               "--output", str(directory / gateway_id)]  # fmt: skip
    if ca_file is not None:
        command += ["--ca-file", str(ca_file)]
    return subprocess.run(
        [*command, "--", gateway_id], capture_output=True, text=True, check=False, timeout=60
    )


def env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as systemd's EnvironmentFile reads them."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def production_config(
    *,
    tls_port: int,
    plain_port: int,
    directory: Path,
    certificates: Certificates,
    password_file: Path,
    log_file: Path,
) -> str:
    """deploy/mosquitto/mosquitto.conf with this test's ports and paths."""
    replacements = {
        "user mosquitto": f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        "persistence_location /var/lib/mosquitto/": f"persistence_location {directory}/",
        "listener 8883": f"listener {tls_port} 127.0.0.1",
        "listener 1883 127.0.0.1": f"listener {plain_port} 127.0.0.1",
        "cafile /etc/mosquitto/certs/ca.crt": f"cafile {certificates.ca}",
        "certfile /etc/mosquitto/certs/broker.crt": f"certfile {certificates.certificate}",
        "keyfile /etc/mosquitto/certs/broker.key": f"keyfile {certificates.key}",
        "password_file /etc/mosquitto/passwd": f"password_file {password_file}",
        "acl_file /etc/mosquitto/acl": f"acl_file {ACL}",
        "log_dest syslog": f"log_dest file {log_file}",
    }
    lines = CONFIG.read_text().splitlines()
    missing = set(replacements) - set(lines)
    if missing:
        raise AssertionError(f"the production config no longer has: {sorted(missing)}")
    return "\n".join(replacements.get(line, line) for line in lines) + "\n"


def settings_of(config: str) -> dict[str, list[str]]:
    """Option -> its values (in order), comments and blank lines left out."""
    found: dict[str, list[str]] = {}
    for line in config.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            option, _, value = line.strip().partition(" ")
            found.setdefault(option, []).append(value)
    return found


def _openssl(*arguments: object) -> None:
    subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True, timeout=60)
