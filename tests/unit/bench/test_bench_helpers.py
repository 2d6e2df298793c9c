"""Pure helpers of `make bench` and `pcms import`: percentiles, latencies, reading files with line numbers."""

import io

import pytest

from bench.profiling import summarise
from bench.run import real_maximum
from bench.stats import fan_out_latencies, latency_summary, percentile, ratio, target
from shared.cli.importer import SourceLine, batched, file_format, read_records

pytestmark = pytest.mark.unit


def test_percentiles_interpolate_between_ranks_like_numpy():
    values = [5, 1, 4, 2, 3]
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 3
    assert percentile(values, 100) == 5
    assert percentile([10, 20], 95) == pytest.approx(19.5)
    assert percentile([], 99) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_latency_summary_and_ratios():
    summary = latency_summary(float(v) for v in range(1, 101))
    assert summary["count"] == 100 and summary["p50"] == 50.5 and summary["max"] == 100.0
    assert summary["p99"] == pytest.approx(99.01)
    assert latency_summary([])["p99"] is None
    assert ratio(150, 300) == 0.5 and ratio(1, 0) is None and ratio(None, 3) is None
    assert target(90, 100, at_most=True) == "met" and target(290, 300) == "missed" and target(None, 1) == "-"


def test_the_real_maximum_is_the_best_sustained_rate_of_any_phase_that_completed():
    results = {"real": {"loads": [{"sustained_per_second": 9.9}, {"sustained_per_second": 38.1},
                                  {"sustained_per_second": None}],
                        "max": {"sustained_per_second": 29.1}}}
    assert real_maximum(results) == 38.1
    assert real_maximum({"real": {"max": {"sustained_per_second": None}}}) is None
    assert real_maximum({}) is None


def test_fan_out_is_the_last_recipient_and_counts_only_messages_that_reached_everyone():
    submitted = {"a": 100.0, "b": 200.0}
    received = {("a", "ML"): 100.010, ("a", "HUB"): 100.050, ("b", "ML"): 200.020}
    fan_out, deliveries = fan_out_latencies(submitted, received, ["ML", "HUB"])
    assert fan_out == [pytest.approx(50)]
    assert sorted(deliveries) == [pytest.approx(10), pytest.approx(20), pytest.approx(50)]


def test_csv_records_carry_their_line_and_bad_lines_are_reported_not_fatal():
    text = ("plate,make,vin\n"
            "AB-1-NE,Toyota,\n"
            "\n"                                   # blank line: skipped, numbering goes on
            "CD-2-NE,Nissan,JTEBU11F670123456,surplus\n"
            '"EF-3-NE","Peugeot\n504",\n'          # a quoted field across two lines starts on line 5
            "GH-4-NE,Isuzu,\n")
    lines = list(read_records(io.StringIO(text), "csv"))
    assert lines[0] == SourceLine(2, record={"plate": "AB-1-NE", "make": "Toyota", "vin": ""})
    assert lines[1].line == 4 and lines[1].record is None and "4 values for the header's 3 columns" in lines[1].error
    assert lines[2].line == 5 and lines[2].record["make"] == "Peugeot\n504"
    assert lines[3] == SourceLine(7, record={"plate": "GH-4-NE", "make": "Isuzu", "vin": ""})


def test_json_lines_report_unreadable_lines_with_their_number():
    text = '{"plate": "AB-1-NE"}\n\nnot json\n[1, 2]\n{"vin": "JTEBU11F670123456"}\n'
    lines = list(read_records(io.StringIO(text), "jsonl"))
    assert [(item.line, item.record is not None) for item in lines] == [(1, True), (3, False), (4, False), (5, True)]
    assert lines[1].error.startswith("not JSON") and "not a JSON object" in lines[2].error


def test_format_from_the_file_name_and_batches():
    from pathlib import Path

    assert file_format(Path("register.CSV")) == "csv" and file_format(Path("x.ndjson")) == "jsonl"
    assert file_format(Path("x.txt"), "csv") == "csv"
    with pytest.raises(ValueError):
        file_format(Path("x.txt"))
    assert [len(b) for b in batched((SourceLine(i) for i in range(1, 1202)), 500)] == [500, 500, 201]


def test_profile_summary_gives_self_and_inclusive_shares():
    collapsed = ("process 1;run (asyncio/runners.py:1);handle (shared/b.py:2);parse (c.py:3) 6\n"
                 "process 1;run (asyncio/runners.py:1);handle (shared/b.py:2) 2\n"
                 "process 1;run (asyncio/runners.py:1);flush (services/d.py:9) 2\n"
                 "process 1;run (asyncio/runners.py:1);EpollSelector.select (selectors.py:468) 7\n")
    found = summarise(collapsed)
    assert found["samples"] == 10
    assert found["self"][0] == {"function": "parse (c.py)", "percent": 60.0}
    inclusive = {x["function"]: x["percent"] for x in found["inclusive"]}
    assert inclusive == {"handle (shared/b.py)": 80.0, "flush (services/d.py)": 20.0}
