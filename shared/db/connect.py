"""PostgreSQL connections: each platform has its own database on the server.

TLS follows libpq's sslmode (settings: database_ssl_mode, database_ssl_root_cert, database_ssl_cert,
database_ssl_key). Unset, nothing is passed to asyncpg and the server URL decides as before (its own
?sslmode=...&sslrootcert=... query, else asyncpg's default).
"""

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


class _TlsSettings(Protocol):
    database_ssl_mode: SslMode | None
    database_ssl_root_cert: Path | None
    database_ssl_cert: Path | None
    database_ssl_key: Path | None


@dataclass(frozen=True)
class DatabaseTls:
    """TLS to PostgreSQL. mode as libpq's sslmode; a root certificate without a mode means verify-full."""

    mode: SslMode | None = None
    root_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_settings(cls, settings: _TlsSettings) -> "DatabaseTls":
        return cls(settings.database_ssl_mode, settings.database_ssl_root_cert, settings.database_ssl_cert,
                   settings.database_ssl_key)

    @property
    def effective_mode(self) -> SslMode | None:
        if self.mode is None and (self.root_cert or self.cert or self.key):
            return "verify-full"
        return self.mode

    def ssl_argument(self) -> ssl.SSLContext | bool | str | None:
        """What asyncpg's `ssl=` gets: None (unset: the URL decides), False, "prefer", or an SSLContext."""
        mode = self.effective_mode
        if mode is None:
            return None
        if mode in ("disable", "prefer"):
            if self.root_cert or self.cert or self.key:
                raise ValueError(f"database_ssl_mode {mode} ignores certificates; use require, verify-ca or verify-full")
            return False if mode == "disable" else "prefer"
        return self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        mode = self.effective_mode
        if mode not in ("require", "verify-ca", "verify-full"):
            raise ValueError(f"no TLS context for database_ssl_mode {mode!r}")
        if (self.cert is None) != (self.key is None):
            raise ValueError("database_ssl_cert and database_ssl_key go together")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # libpq: require with a root certificate verifies the chain, as verify-ca does
        verify = mode != "require" or self.root_cert is not None
        context.check_hostname = mode == "verify-full"
        context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        if verify:
            if self.root_cert is not None:
                context.load_verify_locations(cafile=str(self.root_cert))
            else:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if self.cert is not None:
            context.load_cert_chain(str(self.cert), keyfile=str(self.key))
        return context

    def connect_kwargs(self) -> dict[str, Any]:
        argument = self.ssl_argument()
        return {} if argument is None else {"ssl": argument}


NO_TLS_SETTINGS = DatabaseTls()


def database_dsn(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def connect(dsn: str, *, tls: DatabaseTls = NO_TLS_SETTINGS) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, **tls.connect_kwargs())


async def ensure_database(server_url: str, database: str, *, tls: DatabaseTls = NO_TLS_SETTINGS) -> None:
    connection = await connect(server_url, tls=tls)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await connection.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await connection.close()


async def create_pool(
    server_url: str, database: str, *, min_size: int = 1, max_size: int = 10, tls: DatabaseTls = NO_TLS_SETTINGS
) -> asyncpg.Pool:
    return await asyncpg.create_pool(database_dsn(server_url, database), min_size=min_size, max_size=max_size,
                                     reset=keep_session, server_settings=SESSION_SETTINGS, **tls.connect_kwargs())


SESSION_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
"""asyncpg prepares every statement, and PostgreSQL keeps a generic plan after five runs: planned while a table was
empty (a service's first minutes), `WHERE event_id = ANY($1)` stayed a sequential scan as the audit log grew, 110 ms
a call at 120,000 entries. A plan made for each call's values sees the table as it is now."""


async def keep_session(connection: asyncpg.Connection) -> None:
    """What a connection returned to the pool needs beyond asyncpg's own rollback of an open transaction: nothing.
    Nothing here keeps session state (roles are SET LOCAL, the migration lock is released in `finally`), so the
    default reset (UNLISTEN, RESET ALL, CLOSE ALL, advisory unlock, one more round trip per release) is skipped."""
