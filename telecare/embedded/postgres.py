"""A private PostgreSQL cluster: initdb and pg_ctl on a free loopback port.

``PostgresCluster`` keeps data, sockets and log in one directory: a fresh temp dir by
default (the tests), or a directory that outlives the process (``telecare demo``, which
starts the same cluster again on its next run). ``initdb`` refuses to run as root: then
every server program runs as the ``postgres`` user (created by Debian's postgresql
package) through ``runuser``, and the directory is handed to that user. fsync is off
because a private cluster only has to survive a killed server process, never a lost
machine; commits still reach the operating system before they are acknowledged. A
cluster that must behave like production (``telecare bench``) sets its own
``settings`` over these.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telecare.embedded.port import free_port

DATABASE_URL_VARIABLE = "TELECARE_TEST_DATABASE_URL"

# Where Debian and Ubuntu install the server programs (outside PATH): postgresql-common
# puts each major version's initdb, pg_ctl and postgres in /usr/lib/postgresql/NN/bin.
STANDARD_BIN_DIRS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")
# The unprivileged user that runs the server when the tests run as root.
SERVER_USER = "postgres"
# Superuser of the private clusters (initdb --username).
SUPERUSER = "telecare"
START_TIMEOUT_S = 60
# Appended to the private cluster's postgresql.conf.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "timezone": "'UTC'",
    "max_connections": "200",
}


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: PATH first, then the standard places."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in STANDARD_BIN_DIRS:
        found = (Path(match) for match in glob.glob(pattern))
        candidates.extend(sorted(found, key=_version, reverse=True))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError(
        "PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in "
        f"{', '.join(STANDARD_BIN_DIRS)}: install the Debian package postgresql "
        f"(scripts/system-deps does), or set {DATABASE_URL_VARIABLE}"
    )


def _version(bindir: Path) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in str(bindir))
    return tuple(int(part) for part in digits.split())


@dataclass(kw_only=True)
class PostgresCluster:
    """A private cluster in its own temp dir; ``start``/``stop``/``restart`` at will."""

    bindir: Path = field(default_factory=find_bindir)
    # A fresh temp dir by default; a given directory is created when missing and kept.
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="telecare-pg-")))
    port: int = field(default_factory=free_port)
    run_as: str | None = field(default_factory=lambda: SERVER_USER if os.geteuid() == 0 else None)
    # postgresql.conf settings over SERVER_SETTINGS, values as the file spells them.
    settings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as is not None:
            try:
                account = pwd.getpwnam(self.run_as)
            except KeyError:
                raise RuntimeError(
                    f"running as root, PostgreSQL must run as the user {self.run_as!r}, "
                    "which does not exist: install the Debian package postgresql"
                ) from None
            os.chown(self.base_dir, account.pw_uid, account.pw_gid)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> None:
        self._run(
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        settings = {
            **SERVER_SETTINGS,
            "unix_socket_directories": f"'{self.base_dir}'",
            **self.settings,
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "start",
            f"--pgdata={self.data_dir}",
            f"--log={self.log_file}",
            f"--options=-p {self.port}",
            "--wait",
            f"--timeout={START_TIMEOUT_S}",
        )

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash (recovery on next start)."""
        self._run("pg_ctl", "stop", f"--pgdata={self.data_dir}", f"--mode={mode}", "--wait")

    def restart(self, *, mode: str = "fast") -> None:
        self.stop(mode=mode)
        self.start()

    def is_running(self) -> bool:
        status = subprocess.run(
            self._command("pg_ctl", "status", f"--pgdata={self.data_dir}"),
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def destroy(self) -> None:
        if self.data_dir.exists() and self.is_running():
            self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self.run_as is None:
            return command
        return ["runuser", "-u", self.run_as, "--", *command]

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, check=False)
        if done.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-4000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}"
                f"{log}"
            )


def start_cluster(settings: Mapping[str, str] | None = None) -> PostgresCluster:
    """A fresh, running private cluster (the caller destroys it)."""
    cluster = PostgresCluster(settings=settings or {})
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    return cluster
