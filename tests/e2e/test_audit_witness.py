"""The hub's audit log, checkpointed and witnessed by every active platform, verified from the outside."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_exchange import WANTED, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def audit_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Checkpoints every half second; this test's own development keys."""
    keys = tmp_path / "keys"
    monkeypatch.setenv("PCMS_AUDIT_CHECKPOINT_SECONDS", "0.5")
    monkeypatch.setenv("PCMS_AUDIT_KEY_DIR", str(keys))
    return keys


def test_checkpoints_reach_every_witness_the_hub_trail_is_complete_and_verifies(audit_env, running_federation):
    fed = running_federation
    with fed.api("NE") as ne:
        accepted = ne.post("/v1/messages", json=WANTED)
        assert accepted.status_code == 202, accepted.text
        message_id = accepted.json()["message_id"]

    expected = sorted(["accepted", "published", "enriched", "routed", "delivered", "delivered", "delivered"])
    with fed.audit_api("HUB") as hub_audit:
        def trail() -> list[str]:
            response = hub_audit.get(f"/v1/audit/messages/{message_id}")
            return response.json()["hops"] if response.status_code == 200 else []

        eventually(lambda: sorted(trail()) == expected, within=30, what="complete hub audit trail")
        readers = hub_audit.get("/v1/audit/reads", params={"message_id": message_id}).json()["reads"]
        assert readers and {r["actor"] for r in readers} == {"auditor.hub"}  # the user of the auditor's token

        def hub_checkpoint() -> dict | None:
            log = hub_audit.get("/v1/audit/witness").json()["log"]
            latest = log["latest_checkpoint"]
            return latest if latest and latest["size"] >= 7 else None

        signed = eventually(hub_checkpoint, within=30, what="a hub checkpoint covering the trail")

    for code in ("NE", "ML", "MR"):
        with fed.audit_api(code) as audit:
            def witnessed() -> dict | None:
                witness = audit.get("/v1/audit/witness").json()["witness"]
                latest = witness["latest"]
                return witness if latest and latest["size"] >= signed["size"] else None

            witness = eventually(witnessed, within=30, what=f"{code} witnesses the hub's checkpoint")
            assert witness["log_id"] == signed["log_id"]
            assert witness["counts"].get("rejected", 0) == 0, witness["recent_rejections"]
            assert witness["mirrored_leaves"] >= signed["size"]
            assert witness["learned_keys"] == [signed["key_id"]] and witness["trust_on_first_use"] is True

    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"],
           "PCMS_DATABASE_PREFIX": os.environ["PCMS_DATABASE_PREFIX"], "COLUMNS": "200"}
    verified = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "audit", "verify", "--platform", "HUB", "--witness", "NE",
         "--witness", "ML"], env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("audit log intact") == 2
    national = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "audit", "verify", "--platform", "NE"],
        env=env, capture_output=True, text=True, timeout=60)
    assert national.returncode == 0, national.stdout + national.stderr
