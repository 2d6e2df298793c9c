"""`pcms import` of a stolen-vehicle file through POST /v1/imports at Niger: every good line reaches Mali, once."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CSV = """plate,plate_country,vin,make,model,colour
AB-1001-NE,NE,JTEBU11F670123456,Toyota,Land Cruiser,blanc
AB-1002-NE,NE,,Nissan,Patrol,gris
,,SHORT,Toyota,Hilux,noir
AB-1003-NE,NE,,Mitsubishi,L200,beige,surplus
AB-1004-NE,niger,,Peugeot,504,bleu
"""


def pcms_import(path: Path, url: str, report: Path, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", "import", str(path), "--platform", "NE", "--kind", "stolen_vehicle",
         "--url", url, "--no-progress", "--report", str(report), "--token", token],
        capture_output=True, text=True, timeout=120)


def test_a_file_is_imported_line_by_line_on_the_bulk_lane_and_a_rerun_accepts_nothing_twice(running_federation, tmp_path):
    fed = running_federation
    url = str(fed.api("NE").base_url)
    path = tmp_path / "stolen.csv"
    path.write_text(CSV, encoding="utf-8")

    first = pcms_import(path, url, tmp_path / "first.json", fed.token("NE", "officer"))
    assert first.returncode == 1, first.stdout + first.stderr  # some lines rejected, the file processed
    report = json.loads((tmp_path / "first.json").read_text())
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (2, 0, 3)
    reasons = {r["line"]: " ".join(r["reasons"]) for r in report["rejects"]}
    assert set(reasons) == {4, 5, 6}
    assert "vin" in reasons[4] and "7 values" in reasons[5] and "plate_country" in reasons[6]

    with fed.api("ML") as ml:
        deadline = time.monotonic() + 30
        plates: set[str] = set()
        while time.monotonic() < deadline and len(plates) < 2:
            items = ml.get("/v1/inbox", params={"kind": "alert"}).json()["items"]
            plates = {v["plate"] for item in items if item["message"]["body"]["alert_type"] == "stolen_vehicle"
                      for v in item["message"]["body"]["entities"]["vehicles"]}
            time.sleep(0.3)
        assert plates == {"AB-1001-NE", "AB-1002-NE"}

    again = pcms_import(path, url, tmp_path / "again.json", fed.token("NE", "officer"))
    rerun = json.loads((tmp_path / "again.json").read_text())
    assert again.returncode == 1 and (rerun["accepted"], rerun["duplicates"], rerun["rejected"]) == (0, 2, 3)
