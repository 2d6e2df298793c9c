"""The one logging configuration: what a block binds reaches its records only, and any record renders."""

import io
import json

import pytest
import structlog

from shared.logging import bound_to_log

pytestmark = pytest.mark.unit


def logged(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_block_binds_its_keys_to_its_records_and_gives_the_outer_values_back_after(captured_logs: io.StringIO) -> None:
    log = structlog.get_logger("test")
    with bound_to_log(message_id="batch-1", queue="intake.ML.alerts"):
        with bound_to_log(message_id="item-1", correlation_id="corr-1"):
            log.info("message_handled")
        log.info("batch_handled")
    log.info("idle")

    handled, batch, idle = logged(captured_logs)
    assert (handled["message_id"], handled["correlation_id"], handled["queue"]) == ("item-1", "corr-1", "intake.ML.alerts")
    assert batch["message_id"] == "batch-1" and "correlation_id" not in batch
    assert "message_id" not in idle and "queue" not in idle
    assert idle["service"] == "intake" and idle["platform"] == "MR"


def test_a_block_left_by_an_exception_still_gives_its_keys_back(captured_logs: io.StringIO) -> None:
    log = structlog.get_logger("test")
    with pytest.raises(RuntimeError), bound_to_log(message_id="item-2"):
        raise RuntimeError("handler failed")
    log.info("after")

    assert "message_id" not in logged(captured_logs)[0]


def test_a_value_given_to_the_call_outranks_the_bound_one(captured_logs: io.StringIO) -> None:
    with bound_to_log(message_id="batch-1", type="BatchRelayed"):
        structlog.get_logger("test").info("message_handled", message_id="item-1", type="MessageDispatched")

    record = logged(captured_logs)[0]
    assert (record["message_id"], record["type"]) == ("item-1", "MessageDispatched")


def test_records_render_keys_of_any_type_huge_integers_and_objects_json_cannot_write(captured_logs: io.StringIO) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    log = structlog.get_logger("test")
    log.info("counted", per_attempt={1: 3, 2: 1}, nationals="Niamey – نيامي")
    log.info("odd", huge=2**70, thing=Opaque())

    counted, odd = logged(captured_logs)
    assert counted["per_attempt"] == {"1": 3, "2": 1} and counted["nationals"] == "Niamey – نيامي"
    assert odd["huge"] == 2**70 and odd["thing"] == "<opaque>"
