"""The api's settings, read once from ``TELECARE_*`` environment variables.

    TELECARE_DATABASE_URL         libpq URL of PostgreSQL                      (required)
    TELECARE_API_SECRET           HMAC key signing access tokens, >= 32 bytes  (required)
    TELECARE_API_ISSUER           "iss" of the tokens this api issues           telecare
    TELECARE_API_ACCESS_TTL       seconds an access token lives                 900
    TELECARE_API_REFRESH_TTL      seconds a refresh token lives                 43200
    TELECARE_API_POOL_SIZE        most database connections per process         10
    TELECARE_API_LOGIN_ATTEMPTS   failed logins per user name and window        5
    TELECARE_API_LOGIN_WINDOW     seconds of that window                        900
    TELECARE_API_MAX_POINTS       most points of a chart series                 1000
    TELECARE_API_HOST             address ``telecare api`` listens on           127.0.0.1
    TELECARE_API_PORT             its port                                      8000
    TELECARE_MQTT_URL             broker for gateway configs (mqtt[s]://...)    (none: no push)
    TELECARE_MQTT_PROTOCOL        MQTT version spoken to it: 5 | 3.1.1          5
    TELECARE_OIDC_ISSUER          accept tokens of this external issuer too     (none)
    TELECARE_OIDC_JWKS_URL        its signing keys (JWKS)                       (required with it)
    TELECARE_OIDC_AUDIENCE        the "aud" its tokens must carry               (required with it)

Bad values stop the service at start with a ``SettingsError`` naming the variable.
Secrets and passwords stay out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ingest.settings import Broker, EnvironmentReader, MqttProtocol, parse_protocol

DATABASE_URL = "TELECARE_DATABASE_URL"
SECRET = "TELECARE_API_SECRET"
ISSUER = "TELECARE_API_ISSUER"
ACCESS_TTL = "TELECARE_API_ACCESS_TTL"
REFRESH_TTL = "TELECARE_API_REFRESH_TTL"
POOL_SIZE = "TELECARE_API_POOL_SIZE"
LOGIN_ATTEMPTS = "TELECARE_API_LOGIN_ATTEMPTS"
LOGIN_WINDOW = "TELECARE_API_LOGIN_WINDOW"
MAX_POINTS = "TELECARE_API_MAX_POINTS"
HOST = "TELECARE_API_HOST"
PORT = "TELECARE_API_PORT"
MQTT_URL = "TELECARE_MQTT_URL"
MQTT_PROTOCOL = "TELECARE_MQTT_PROTOCOL"
OIDC_ISSUER = "TELECARE_OIDC_ISSUER"
OIDC_JWKS_URL = "TELECARE_OIDC_JWKS_URL"
OIDC_AUDIENCE = "TELECARE_OIDC_AUDIENCE"

# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash, 256 bits.
MIN_SECRET_BYTES = 32
# Short-lived access tokens (RFC 9700 section 2.2.2 recommends limiting their lifetime);
# a refresh token outlives a working shift, after which the user signs in again.
DEFAULT_ACCESS_TTL = timedelta(minutes=15)
DEFAULT_REFRESH_TTL = timedelta(hours=12)
# psycopg's pool docs: keep it small; the database, not Python, bounds concurrency.
DEFAULT_POOL_SIZE = 10
# OWASP API2: anti-brute-force limits stricter than general rate limits.
DEFAULT_LOGIN_ATTEMPTS = 5
DEFAULT_LOGIN_WINDOW = timedelta(minutes=15)
# A chart as wide as a screen: the issue's "at most 1,000 points" for a 30-day chart.
DEFAULT_MAX_POINTS = 1000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcSettings:
    """An external identity provider whose tokens the api accepts (a region's IdP)."""

    issuer: str
    jwks_url: str
    audience: str

    def __post_init__(self) -> None:
        if not (self.issuer and self.jwks_url and self.audience):
            raise ValueError("OIDC needs an issuer, a JWKS URL and an audience")
        if not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("the JWKS URL must be http(s)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """Everything ``telecare api`` needs, validated."""

    database_url: str = field(repr=False)
    secret: str = field(repr=False)
    issuer: str = "telecare"
    access_ttl: timedelta = DEFAULT_ACCESS_TTL
    refresh_ttl: timedelta = DEFAULT_REFRESH_TTL
    pool_size: int = DEFAULT_POOL_SIZE
    login_attempts: int = DEFAULT_LOGIN_ATTEMPTS
    login_window: timedelta = DEFAULT_LOGIN_WINDOW
    max_points: int = DEFAULT_MAX_POINTS
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    broker: Broker | None = None
    # The same variable as ingest's and the gateway's: the demo's amqtt speaks 3.1.1 only.
    mqtt_protocol: MqttProtocol = MqttProtocol.V5
    oidc: OidcSettings | None = None

    def __post_init__(self) -> None:
        if not self.database_url:
            raise ValueError("the database URL is empty")
        if len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
        if not self.issuer:
            raise ValueError("the issuer is empty")
        for name in ("access_ttl", "refresh_ttl", "login_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.refresh_ttl < self.access_ttl:
            raise ValueError("a refresh token must live at least as long as an access token")
        for name, low in (("pool_size", 1), ("login_attempts", 1), ("max_points", 2)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}")
        if not 0 < self.port < 2**16:
            raise ValueError(f"port must be within 1..65535, got {self.port}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        """Settings from ``environ``; unset variables take their defaults."""
        for required in (DATABASE_URL, SECRET):
            if not environ.get(required):
                raise SettingsError(f"{required} is not set")
        values = EnvironmentReader(environ, error=SettingsError)
        oidc_issuer = environ.get(OIDC_ISSUER, "").strip()
        try:
            oidc = (
                OidcSettings(
                    issuer=oidc_issuer,
                    jwks_url=environ.get(OIDC_JWKS_URL, "").strip(),
                    audience=environ.get(OIDC_AUDIENCE, "").strip(),
                )
                if oidc_issuer
                else None
            )
            return cls(
                database_url=environ[DATABASE_URL],
                secret=environ[SECRET],
                issuer=environ.get(ISSUER, "").strip() or "telecare",
                access_ttl=values.read(ACCESS_TTL, _seconds, DEFAULT_ACCESS_TTL),
                refresh_ttl=values.read(REFRESH_TTL, _seconds, DEFAULT_REFRESH_TTL),
                pool_size=values.read(POOL_SIZE, int, DEFAULT_POOL_SIZE),
                login_attempts=values.read(LOGIN_ATTEMPTS, int, DEFAULT_LOGIN_ATTEMPTS),
                login_window=values.read(LOGIN_WINDOW, _seconds, DEFAULT_LOGIN_WINDOW),
                max_points=values.read(MAX_POINTS, int, DEFAULT_MAX_POINTS),
                host=environ.get(HOST, "").strip() or DEFAULT_HOST,
                port=values.read(PORT, int, DEFAULT_PORT),
                broker=values.read(MQTT_URL, Broker.from_url, None),
                mqtt_protocol=values.read(MQTT_PROTOCOL, parse_protocol, MqttProtocol.V5),
                oidc=oidc,
            )
        except ValueError as exc:
            if isinstance(exc, SettingsError):
                raise
            raise SettingsError(f"bad api settings: {exc}") from exc


def _seconds(text: str) -> timedelta:
    seconds = float(text)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("must be a positive, finite number of seconds")
    return timedelta(seconds=seconds)
