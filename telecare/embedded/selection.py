"""Which embedded broker and PostgreSQL ``telecare demo`` runs (issue 8).

The machine's own Mosquitto and PostgreSQL when installed, else the Python fallbacks:
amqtt (MQTT 3.1.1 only) and the PostgreSQL binaries of the ``pgserver`` wheel, which
``PostgresCluster`` runs like the machine's own (as user ``postgres`` when root).
``TELECARE_DEMO_BROKER`` (mosquitto | amqtt | auto) and ``TELECARE_DEMO_POSTGRES``
(system | pgserver | auto) force a choice, so tests can run a fallback on a machine
that has both; ``auto``, the default, prefers the machine's.

The pgserver wheel (0.1.4) ships no contrib modules; the schema needs none (migration
0003 holds one patient per device with a trigger, not btree_gist's EXCLUDE).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from telecare.embedded.broker import mosquitto_installed
from telecare.embedded.postgres import find_bindir

BROKER_VARIABLE = "TELECARE_DEMO_BROKER"
POSTGRES_VARIABLE = "TELECARE_DEMO_POSTGRES"
AUTO = "auto"
# Where the pgserver wheel keeps initdb, pg_ctl and postgres, inside its package.
_PGSERVER_BIN = Path("pginstall") / "bin"


class BrokerKind(StrEnum):
    MOSQUITTO = "mosquitto"
    AMQTT = "amqtt"


class PostgresKind(StrEnum):
    SYSTEM = "system"
    PGSERVER = "pgserver"


def system_bindir() -> Path | None:
    try:
        return find_bindir()
    except RuntimeError:
        return None


def pgserver_bindir() -> Path | None:
    """The pgserver wheel's bin directory, found without importing pgserver.

    Importing it warns (platformdirs' RuntimeDirWarning when XDG_RUNTIME_DIR is unset)
    and registers atexit cleanups; only its binaries are used here.
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / _PGSERVER_BIN
    return bindir if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists() else None


# Each kind, in the order ``auto`` tries them, with how to tell it is available.
BROKERS: dict[BrokerKind, Callable[[], bool]] = {
    BrokerKind.MOSQUITTO: mosquitto_installed,
    BrokerKind.AMQTT: lambda: importlib.util.find_spec("amqtt") is not None,
}
POSTGRES_BINDIRS: dict[PostgresKind, Callable[[], Path | None]] = {
    PostgresKind.SYSTEM: system_bindir,
    PostgresKind.PGSERVER: pgserver_bindir,
}
K = TypeVar("K", bound=StrEnum)
_MISSING_HINT = "install the machine's package or telecare's [server] extra"


def choose_broker(environ: Mapping[str, str]) -> BrokerKind:
    wanted = _wanted(environ, BROKER_VARIABLE, BrokerKind)
    for kind in (wanted,) if wanted is not None else tuple(BrokerKind):
        if BROKERS[kind]():
            return kind
    names = wanted or " or ".join(BrokerKind)
    raise RuntimeError(f"no MQTT broker to embed: {names} not found ({_MISSING_HINT})")


def choose_postgres(environ: Mapping[str, str]) -> tuple[PostgresKind, Path]:
    """The kind of PostgreSQL to run and the directory of its initdb and pg_ctl."""
    wanted = _wanted(environ, POSTGRES_VARIABLE, PostgresKind)
    for kind in (wanted,) if wanted is not None else tuple(PostgresKind):
        bindir = POSTGRES_BINDIRS[kind]()
        if bindir is not None:
            return kind, bindir
    names = wanted or " or ".join(PostgresKind)
    raise RuntimeError(f"no PostgreSQL to embed: {names} not found ({_MISSING_HINT})")


def _wanted(environ: Mapping[str, str], variable: str, kinds: type[K]) -> K | None:
    text = environ.get(variable, AUTO).strip().lower() or AUTO
    if text == AUTO:
        return None
    try:
        return kinds(text)
    except ValueError:
        choices = " | ".join((*kinds, AUTO))
        raise RuntimeError(f"{variable} must be {choices}, not {text!r}") from None
