"""Pure helpers of `make bench` and `pcms import`: percentiles, latencies, reading files with line numbers."""

import io
from pathlib import Path

import pytest

from bench import infra
from bench.infra import CLOCK_TICKS, database_transport, headroom_warning, infrastructure_cpu_of, stat_cpu_seconds
from bench.profiling import summarise
from bench import profiling
from bench.run import parse, profiler_for, real_maximum, verdicts
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


def _stat(pid: int, command: str, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    return (f"{pid} ({command}) S 1 {pid} {pid} 0 -1 4194304 20434 3070590 1 65 {utime} {stime} {cutime} {cstime} "
            "20 0 1 0 55224 224456704 7860")


def test_the_database_cpu_keeps_what_a_backend_used_after_it_exits():
    ticks = CLOCK_TICKS
    with_backend = [("postgres", _stat(10, "postgres", 1 * ticks, 0)),
                    ("postgres", _stat(11, "postgres", 4 * ticks, 1 * ticks)),
                    ("beam.smp", _stat(20, "beam.smp", 2 * ticks, 1 * ticks)),
                    ("python", _stat(30, "python", 9 * ticks, 0))]
    reaped = [("postgres", _stat(10, "postgres", 1 * ticks, 0, cutime=4 * ticks, cstime=1 * ticks)),
              ("beam.smp", _stat(20, "beam.smp", 2 * ticks, 1 * ticks)),
              ("python", _stat(30, "python", 9 * ticks, 0))]

    before, after = infrastructure_cpu_of(with_backend), infrastructure_cpu_of(reaped)

    assert before == {"rabbitmq": 3.0, "postgresql": 6.0}
    assert after == before


def test_a_process_name_with_a_parenthesis_does_not_shift_the_fields():
    assert stat_cpu_seconds(_stat(40, "odd) (name", 3 * CLOCK_TICKS, CLOCK_TICKS, cutime=CLOCK_TICKS)) == 4.0
    assert stat_cpu_seconds(_stat(40, "odd) (name", 3 * CLOCK_TICKS, CLOCK_TICKS, cutime=CLOCK_TICKS),
                            reaped_children=True) == 5.0


def test_the_run_warns_of_vhosts_left_by_kept_runs_and_of_a_broker_short_of_file_descriptors():
    assert headroom_warning({"file_descriptors_used": 35, "file_descriptors_limit": 1024, "bench_vhosts_left": []}) is None

    crowded = headroom_warning({"file_descriptors_used": 936, "file_descriptors_limit": 1024,
                                "bench_vhosts_left": ["bench-3517e5d4", "bench-e4db0641"]})
    short = headroom_warning({"file_descriptors_used": 600, "file_descriptors_limit": 1024, "bench_vhosts_left": []})

    assert crowded is not None and "936 of its 1024" in crowded and "bench-3517e5d4, bench-e4db0641" in crowded
    assert "delete_vhost" in crowded
    assert short is not None and "600 of its 1024" in short


def test_the_bench_reaches_a_local_database_by_its_socket_unless_a_url_is_given(monkeypatch):
    for name in ("DATABASE_URL", "PCMS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(infra, "local_socket_dir", lambda: None)
    assert infra.database_url() == "postgresql://postgres@127.0.0.1:5432/postgres"
    monkeypatch.setattr(infra, "local_socket_dir", lambda: Path("/run/postgresql"))
    assert infra.database_url() == "postgresql://postgres@/postgres?host=/run/postgresql"
    assert database_transport(infra.database_url()) == "unix socket in /run/postgresql"
    monkeypatch.setenv("DATABASE_URL", "postgresql://pcms:secret@db.example:6432/postgres")
    assert database_transport(infra.database_url()) == "tcp db.example:6432"


def test_the_import_target_is_met_or_missed_only_by_an_import_of_100_000_records():
    def bulk_verdict(records: int, seconds: float) -> list:
        results = {"ratios": {"real_over_null": None}, "bulk": {"records": records, "import_seconds": seconds}}
        return verdicts(results)["bulk 100k <= 120 s (projected from smaller runs)"]

    assert bulk_verdict(100_000, 158.8) == [158.8, "missed"]
    assert bulk_verdict(2_000, 2.39) == [119.5, "met if projected"]


def test_memory_is_judged_idle_after_start_and_idle_again_after_the_load():
    memory = {"audit@NE": {"idle_mb": 77.2, "idle_after_load_mb": 162.2, "peak_mb": 162.2},
              "routing@HUB": {"idle_mb": 65.7, "idle_after_load_mb": 82.9, "peak_mb": 86.3}}
    found = verdicts({"ratios": {"real_over_null": None}, "cost": {"memory": memory}})

    assert found["every service idle <= 150 MB"] == [77.2, "met"]
    assert found["every service idle after the load <= 150 MB"] == [162.2, "missed"]


def test_the_table_shows_the_floor_of_one_broker_hop_and_survives_its_failure(monkeypatch):
    from rich.console import Console

    from bench import run

    hop = {"messages": 200, "confirmed_ms": latency_summary([1.0, 1.2, 3.0]),
           "delivered_ms": latency_summary([1.1, 1.3, 4.0])}
    for raw, expected in (({"messages_per_second": 4400.0, "one_hop": hop}, ["publish to confirm", "1.20 / 2.96"]),
                          ({"messages_per_second": 4400.0, "one_hop": {"error": "ConnectionError: gone"}}, [])):
        out = io.StringIO()
        monkeypatch.setattr(run, "console", Console(file=out, width=200))
        run.print_tables({"mode": "quick", "raw": raw, "targets": run.TARGETS, "ratios": {}, "verdicts": {}})
        printed = out.getvalue()
        assert "4,400.0" in printed
        assert all(text in printed for text in expected)
        assert ("publish to delivery" in printed) == bool(expected)


class _Federation:
    def pids(self) -> dict[str, int]:
        return {"intake@NE": 1}


@pytest.mark.parametrize(("argv", "profiled"), [
    ([], []),
    (["--profile"], [None]),
    (["--profile-at", "10"], [10.0]),
    (["--profile", "--profile-at", "50"], [50.0]),
])
def test_only_the_chosen_load_is_profiled(monkeypatch, argv, profiled):
    monkeypatch.setattr(profiling, "py_spy", lambda: "/usr/bin/py-spy")
    args = parse(argv)
    chosen = [rate for rate in (10.0, 50.0, None) if profiler_for(args, _Federation(), {}, 5, rate) is not None]
    assert chosen == profiled
