-- The relay's reclaim (shared/db/outbox_store.py) analyses only what the take's plan depends on, from a small
-- sample: on the hub's outbox of 40,000 rows, ANALYZE of every column took 166 ms (it reads every sampled body),
-- of these four at statistics 10 15-24 ms.
ALTER TABLE outbox
    ALTER COLUMN sent_at SET STATISTICS 10,
    ALTER COLUMN next_attempt_at SET STATISTICS 10,
    ALTER COLUMN priority SET STATISTICS 10,
    ALTER COLUMN lingers SET STATISTICS 10;
