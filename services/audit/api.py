from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException

from shared.http import create_app
from services.audit.ports import AuditQueries


def build_api(*, platform: str, queries: AuditQueries) -> FastAPI:
    app = create_app(f"PCMS audit — {platform}")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "platform": platform, "service": "audit"}

    @app.get("/v1/audit/messages/{message_id}")
    async def message_trail(message_id: UUID) -> dict[str, Any]:
        trail = await queries.trail(message_id)
        if not trail:
            raise HTTPException(404, detail=f"no audit entries for message {message_id} at {platform}")
        return {"message_id": str(message_id), "platform": platform, "hops": [e["hop"] for e in trail], "entries": trail}

    return app
