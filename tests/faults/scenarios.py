"""What every fault scenario sends and checks."""

import asyncio
import time

from tests.faults.harness import Federated

ALERT = {
    "kind": "alert", "submitted_by": "police", "priority": "urgent",
    "evaluation": {"source": "B", "information": "2"},
    "body": {"alert_type": "stolen_vehicle", "summary": "Toyota Hilux volé à Agadez.",
             "entities": {"vehicles": [{"plate": "AB-1234-NE", "plate_country": "NE", "make": "Toyota"}]}},
}
RECIPIENTS = ["ML", "HUB"]
MESSAGES = 2000


# every message a receipt names: its in_reply_to, and those it lists as received with it (contract 1.4)
_ACKNOWLEDGED = """
SELECT count(*), count(DISTINCT acknowledged) FROM (
    SELECT in_reply_to AS acknowledged FROM sent_messages WHERE kind = 'acknowledgement'
    UNION ALL
    SELECT jsonb_array_elements_text(payload -> 'body' -> 'also_received')::uuid FROM sent_messages
    WHERE kind = 'acknowledgement' AND jsonb_typeof(payload -> 'body' -> 'also_received') = 'array'
) receipts WHERE acknowledged = ANY($1::uuid[])
"""


async def check_exactly_once(fed: Federated) -> dict[str, int]:
    """Every sent message once in every inbox and in audit; no effect twice. Returns the figures."""
    ids = list(fed.sent.values())
    assert len(set(ids)) == len(ids) == len(fed.sent)
    sent_rows = await fed.fetchval("NE", "SELECT count(*) FROM sent_messages WHERE kind = 'alert'")
    assert sent_rows == len(ids), f"NE accepted {sent_rows} alerts for {len(ids)} submissions"
    figures = {"sent": len(ids)}
    for code in RECIPIENTS:
        delivered = await fed.fetchval(code, "SELECT count(*) FROM inbox_items WHERE message_id = ANY($1::uuid[])", ids)
        receipts_due = time.monotonic() + 60  # receipts are queued and sent a round (a second) later
        while (row := await fed.fetchrow(code, _ACKNOWLEDGED, ids))[1] < len(ids) and time.monotonic() < receipts_due:
            await asyncio.sleep(0.5)
        receipts, acknowledged = row
        assert delivered == len(ids), f"{code} has {delivered} of {len(ids)}"
        assert acknowledged == len(ids), f"{code} acknowledged {acknowledged} of {len(ids)} deliveries"
        assert receipts == acknowledged, f"{code} acknowledged {receipts - acknowledged} deliveries more than once"
        figures[f"delivered_{code}"] = delivered
        figures[f"receipts_{code}"] = await fed.fetchval(  # receipt messages: one per origin and round of receipts
            code, "SELECT count(*) FROM sent_messages WHERE kind = 'acknowledgement' AND in_reply_to = ANY($1::uuid[])", ids)
    expected_hops = {("accepted", "NE"), ("published", "NE"), ("enriched", "HUB"), ("routed", "HUB"),
                     ("delivered", "ML"), ("delivered", "HUB")}
    deadline = time.monotonic() + 300
    while True:
        audited = await fed.fetchval(
            "HUB", "SELECT count(*) FROM (SELECT DISTINCT message_id, hop, platform FROM audit_log "
                   "WHERE message_id = ANY($1::uuid[])) hops", ids)
        if audited == len(ids) * len(expected_hops) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    entries = await fed.fetchval("HUB", "SELECT count(*) FROM audit_log WHERE message_id = ANY($1::uuid[])", ids)
    assert audited == len(ids) * len(expected_hops), f"audit holds {audited} of {len(ids) * len(expected_hops)} hops"
    assert entries == audited, f"audit holds {entries - audited} duplicate entries"
    figures["audit_entries"] = entries
    return figures


FIGURES: list[str] = []  # printed in pytest's terminal summary, so CI shows them without -s


def report(scenario: str, fed: Federated, figures: dict[str, int], **seconds: float) -> None:
    outcomes = fed.outcomes()
    duplicates = outcomes["duplicate"]
    retried = sum(n for outcome, n in outcomes.items() if outcome.startswith("retry_in_"))
    timing = " ".join(f"{name}={value:.1f}s" for name, value in seconds.items())
    line = (f"[faults] {scenario}: {' '.join(f'{k}={v}' for k, v in figures.items())} "
            f"duplicates_suppressed={duplicates} retries={retried} {timing}")
    FIGURES.append(line)
    print("\n" + line)
