"""The gateway's MQTT connection with paho: the only paho import in gateway/.

MQTT 5 by default, 3.1.1 for brokers without it. The session is persistent (MQTT 5:
Clean Start 0 with a Session Expiry Interval, since Clean Start 0 alone still ends the
session at disconnect; 3.1.1: clean session off), so the broker keeps the gateway's
config and ack subscriptions while it is away (../shared/reference/reliability_security.md
1.1). The Last Will is the retained "offline" status, so the fleet learns of a dead
gateway from the broker.

Every publish is awaited to its PUBACK and its reason code checked. paho marks a message
published on *any* PUBACK, failure codes included (reliability_security.md 0, finding 3;
paho ``_do_on_publish``), so a refusal (0x87 not authorized, 0x97 quota exceeded, 0x95
packet too large) would otherwise look like success. ``publish`` returns a
``PublishOutcome`` and never counts a refused message as sent; with MQTT 3.1.1 the
broker sends no reason code and a refusal shows only as a missing app-level ack, which
keeps the readings in the outbox all the same.

paho runs its network loop on its own thread; every callback is handed to the asyncio
loop with ``call_soon_threadsafe``, so all state here is touched from the loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# paho is confined to this module by the banned-api rule (pyproject.toml) within the
# gateway; this is the module the rule points to.
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.settings import MqttProtocol, MqttSettings

log = logging.getLogger(__name__)

_PROTOCOLS = {MqttProtocol.V5: paho.MQTTv5, MqttProtocol.V311: paho.MQTTv311}
# The first reason code that means failure (MQTT 5.0 section 2.4).
FAILURE = 0x80
# Outcome codes of our own for a publish that got no PUBACK (never valid MQTT codes).
NO_CONNECTION = -1
NO_PUBACK = -2
# paho's first reconnect delay (seconds); it doubles up to reconnect_max_s.
_RECONNECT_MIN = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishOutcome:
    """What became of one publish: ``accepted`` only with a success PUBACK."""

    accepted: bool
    reason_code: int
    reason: str

    @property
    def refused(self) -> bool:
        """The broker answered and said no (as opposed to no answer at all)."""
        return self.reason_code >= FAILURE


@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    topic: str
    payload: bytes


class MqttLink:
    """One broker connection; construct and ``start`` on the running event loop."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        will: Will,
        subscriptions: tuple[str, ...],
        on_message: Callable[[str, bytes], None],
        on_connection: Callable[[bool], None] = lambda up: None,
        on_refused_subscription: Callable[[str], None] = lambda detail: None,
    ) -> None:
        self._settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connection = on_connection
        self._on_refused_subscription = on_refused_subscription
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[PublishOutcome]] = {}
        self._up = asyncio.Event()
        self._client = self._build(client_id, will)

    def _build(self, client_id: str, will: Will) -> paho.Client:
        settings = self._settings
        v5 = settings.protocol is MqttProtocol.V5
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=_PROTOCOLS[settings.protocol],
            # MQTT 5 has Clean Start on connect instead (paho wants None here then).
            clean_session=None if v5 else False,
        )
        client.enable_logger(logging.getLogger("paho.mqtt"))
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            client.tls_set(
                ca_certs=None if settings.ca_file is None else str(settings.ca_file),
                certfile=None if settings.cert_file is None else str(settings.cert_file),
                keyfile=None if settings.key_file is None else str(settings.key_file),
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.will_set(will.topic, will.payload, qos=1, retain=True)
        client.reconnect_delay_set(_RECONNECT_MIN, settings.reconnect_max_s)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._published
        client.on_message = self._message
        client.on_subscribe = self._subscribed
        return client

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    async def wait_connected(self) -> None:
        await self._up.wait()

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself from then on."""
        settings = self._settings
        v5 = settings.protocol is MqttProtocol.V5
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = settings.session_expiry_s
        self._client.connect_async(
            settings.host,
            settings.port,
            keepalive=settings.keepalive_s,
            clean_start=False
            if settings.protocol is MqttProtocol.V5
            else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    async def stop(self, *, last: tuple[str, bytes] | None = None, wait_s: float) -> None:
        """Publish ``last`` (topic, payload; retained) if connected, then disconnect
        cleanly: the broker drops the will, so ``last`` is what stays retained."""
        if last is not None and self.connected:
            await self.publish(last[0], last[1], retain=True, wait_s=wait_s)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._fail_pending("stopped")

    async def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, wait_s: float
    ) -> PublishOutcome:
        """QoS 1 publish, awaited until its PUBACK, ``wait_s`` seconds or a lost connection."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc is not MQTTErrorCode.MQTT_ERR_SUCCESS:
            code = NO_CONNECTION if info.rc is MQTTErrorCode.MQTT_ERR_NO_CONN else NO_PUBACK
            return PublishOutcome(
                accepted=False, reason_code=code, reason=paho.error_string(info.rc)
            )
        # The PUBACK callback is queued to this loop, so it cannot run before this line.
        future = self._loop.create_future()
        self._pending[info.mid] = future
        try:
            async with asyncio.timeout(wait_s):
                outcome: PublishOutcome = await future
                return outcome
        except TimeoutError:
            return PublishOutcome(accepted=False, reason_code=NO_PUBACK, reason="no PUBACK in time")
        finally:
            self._pending.pop(info.mid, None)

    # -- paho's thread -> the loop -------------------------------------------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        # A closed loop means the gateway is shutting down; nothing is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _connected(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        # Subscribing on every connect: a broker that lost the session (or a clean one)
        # would otherwise deliver nothing and report no error (floors.md 3.4).
        if self._subscriptions:
            client.subscribe([(subscription, 1) for subscription in self._subscriptions])
        self._to_loop(self._set_up, True)

    def _disconnected(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        log.warning("disconnected from the broker: %s", reason)
        self._to_loop(self._set_up, False)

    def _published(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any
    ) -> None:
        outcome = PublishOutcome(
            accepted=not reason.is_failure, reason_code=reason.value, reason=str(reason)
        )
        self._to_loop(self._resolve, mid, outcome)

    def _message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._to_loop(self._on_message, message.topic, bytes(message.payload))

    def _subscribed(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Any,
    ) -> None:
        for subscription, reason in zip(self._subscriptions, reasons, strict=False):
            if reason.is_failure:
                self._to_loop(self._on_refused_subscription, f"{subscription}: {reason}")

    # -- on the loop ---------------------------------------------------------------------

    def _set_up(self, up: bool) -> None:
        if up:
            self._up.set()
        else:
            self._up.clear()
            self._fail_pending("connection lost")
        self._on_connection(up)

    def _resolve(self, mid: int, outcome: PublishOutcome) -> None:
        future = self._pending.get(mid)
        if future is not None and not future.done():
            future.set_result(outcome)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_result(
                    PublishOutcome(accepted=False, reason_code=NO_CONNECTION, reason=why)
                )
