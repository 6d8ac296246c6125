"""BlueZ over D-Bus where bleak stops: the pairing agent and the Battery1 property.

**Pairing agent.** Omron, A&D and other cuffs talk only to a bonded host, and BlueZ's
``Device1.Pair()`` "will fail" with no application agent and no default agent (BlueZ
doc/org.bluez.Device.rst). bleak registers none (../shared/reference/ble.md 2.3;
hass-omron registers its own). ``PairingAgent`` is an ``org.bluez.Agent1`` with IO
capability NoInputNoOutput (Just Works, as the Omron EVOLV bonds: h2zero/NimBLE-Arduino
issue #246). It confirms and authorizes only devices on the gateway's allowlist and
rejects everything else, so a stranger in radio range cannot bond with the gateway.
Passkey entry (Silvercrest SBM69, some Omron models) needs a person at a keyboard and
is rejected; such a device is paired once by hand with ``bluetoothctl``.

**Battery.** bluetoothd's battery plugin claims the Battery service (0x180F) and hides
it from the GATT tree; the level is the ``org.bluez.Battery1.Percentage`` property of
the device object instead (ble.md 1.6; bleak issues #104, #393).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusSignature, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

BLUEZ = "org.bluez"
AGENT_MANAGER_PATH = "/org/bluez"
AGENT_MANAGER = "org.bluez.AgentManager1"
PROPERTIES = "org.freedesktop.DBus.Properties"
# Where the gateway exports its agent; any path the gateway owns will do.
AGENT_PATH = "/org/telecare/agent"
# BlueZ doc/org.bluez.AgentManager.rst: the capability for a box with no display and
# no keyboard, which makes every pairing Just Works.
CAPABILITY = "NoInputNoOutput"
# BlueZ doc/org.bluez.Agent.rst: the error an agent returns to refuse.
REJECTED = "org.bluez.Error.Rejected"
_DEVICE_PATH_PREFIX = "dev_"

# dbus-fast reads a method's return annotation as its reply signature; "" is no reply.
NoReply = Annotated[None, DBusSignature("")]

log = logging.getLogger(__name__)


def address_of(device_path: str) -> str:
    """``/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF`` -> ``AA:BB:CC:DD:EE:FF``."""
    leaf = device_path.rsplit("/", 1)[-1]
    if not leaf.startswith(_DEVICE_PATH_PREFIX):
        raise ValueError(f"not a BlueZ device path: {device_path}")
    return leaf.removeprefix(_DEVICE_PATH_PREFIX).replace("_", ":").upper()


class PairingAgent(ServiceInterface):
    """``org.bluez.Agent1`` that bonds allowlisted devices without a person present.

    ``allowed(address)`` decides; ``refused(address, why)`` hears about each refusal.
    """

    def __init__(
        self, *, allowed: Callable[[str], bool], refused: Callable[[str, str], None]
    ) -> None:
        super().__init__("org.bluez.Agent1")
        self._allowed = allowed
        self._refused = refused

    def _check(self, device: str, what: str) -> None:
        address = address_of(device)
        if not self._allowed(address):
            self._refused(address, f"{what} for a device not on the allowlist")
            raise DBusError(REJECTED, f"{address} is not on this gateway's allowlist")
        log.info("agent: %s for %s accepted", what, address)

    def _refuse(self, device: str, what: str) -> None:
        address = address_of(device)
        self._refused(address, f"{what}: needs a person at the gateway; pair by hand")
        raise DBusError(REJECTED, f"{what} is not possible on a headless gateway")

    @dbus_method()
    def Release(self) -> NoReply:
        log.info("agent released by BlueZ")

    @dbus_method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> NoReply:
        self._check(device, "numeric comparison")

    @dbus_method()
    def RequestAuthorization(self, device: DBusObjectPath) -> NoReply:
        self._check(device, "pairing authorization")

    @dbus_method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> NoReply:
        self._check(device, f"service {uuid} authorization")

    @dbus_method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        self._refuse(device, "PIN code entry")
        return ""

    @dbus_method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        self._refuse(device, "passkey entry")
        return 0

    @dbus_method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> NoReply:
        log.info("agent: PIN code shown for %s", address_of(device))

    @dbus_method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> NoReply:
        log.info("agent: passkey shown for %s", address_of(device))

    @dbus_method()
    def Cancel(self) -> NoReply:
        log.info("agent: pairing cancelled by BlueZ")


class BluezLink:
    """The gateway's own system-bus connection: the agent lives on it, and Battery1 is
    read through it."""

    def __init__(self) -> None:
        self._bus: MessageBus | None = None

    async def open(self, agent: PairingAgent) -> None:
        """Connect, export the agent and make it BlueZ's default agent."""
        self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self._bus.export(AGENT_PATH, agent)
        await self._agent_manager("RegisterAgent", "os", [AGENT_PATH, CAPABILITY])
        await self._agent_manager("RequestDefaultAgent", "o", [AGENT_PATH])

    async def close(self) -> None:
        if self._bus is None:
            return
        try:
            await self._agent_manager("UnregisterAgent", "o", [AGENT_PATH])
        except DBusError as exc:
            log.debug("unregistering the agent: %s", exc)
        self._bus.disconnect()
        self._bus = None

    async def battery(self, device_path: str) -> int | None:
        """``Battery1.Percentage`` of a device, or None when BlueZ has none for it."""
        try:
            reply = await self._call(
                device_path, PROPERTIES, "Get", "ss", ["org.bluez.Battery1", "Percentage"]
            )
        except DBusError:
            return None
        value = reply[0]
        return int(value.value) if isinstance(value, Variant) else None

    async def _agent_manager(self, member: str, signature: str, body: list[object]) -> None:
        await self._call(AGENT_MANAGER_PATH, AGENT_MANAGER, member, signature, body)

    async def _call(
        self, path: str, interface: str, member: str, signature: str, body: list[object]
    ) -> list[object]:
        if self._bus is None:
            raise DBusError("org.freedesktop.DBus.Error.Disconnected", "not connected")
        reply = await self._bus.call(
            Message(
                destination=BLUEZ,
                path=path,
                interface=interface,
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply is None:
            raise DBusError("org.freedesktop.DBus.Error.NoReply", f"{member}: no reply")
        if reply.message_type is MessageType.ERROR:
            raise DBusError(reply.error_name or "org.bluez.Error.Failed", str(reply.body))
        return list(reply.body)
