"""Applies SQL migrations, shared ones first, then each service's, once each, under an advisory lock."""

from importlib import resources
from pathlib import Path

import asyncpg

MIGRATION_PACKAGES = (
    "shared.db",
    "services.intake",
    "services.enrichment",
    "services.routing",
    "services.audit",
)
_LOCK_KEY = 0x5043_4D53  # "PCMS"


def migration_files() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for package in MIGRATION_PACKAGES:
        folder = Path(str(resources.files(package))) / "migrations"
        if folder.is_dir():
            found += [(f"{package}/{path.name}", path) for path in sorted(folder.glob("*.sql"))]
    return found


async def migrate(connection: asyncpg.Connection) -> list[str]:
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["id"] for row in await connection.fetch("SELECT id FROM schema_migrations")}
        for migration_id, path in migration_files():
            if migration_id in done:
                continue
            async with connection.transaction():
                await connection.execute(path.read_text(encoding="utf-8"))
                await connection.execute("INSERT INTO schema_migrations (id) VALUES ($1)", migration_id)
            applied_now.append(migration_id)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
