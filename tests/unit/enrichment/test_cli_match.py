"""`pcms match`: the command line calls the matching API and prints what it answers."""

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shared.cli import match
from shared.cli.main import app

pytestmark = pytest.mark.unit

CANDIDATE = {"rank": 1, "platform": "NE", "message_id": "00000000-0000-4000-8000-00000000000a", "position": 0,
             "entity_type": "person", "score": 0.97, "outcome": "hit",
             "explanation": ["names 1.00", "mohamed~mhmd: same name across scripts (1.00)"]}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict, str | None]]:
    seen: list[tuple[str, dict, str | None]] = []

    def post(url: str, *, json: dict, timeout: float, headers: dict[str, str]) -> httpx.Response:
        seen.append((url, json, headers.get("Authorization")))
        if url.endswith("/v1/match"):
            body = {"entity_type": "person", "count": 1, "candidates": [CANDIDATE], "index_records": 3}
        elif json.get("entity_type") == "ship":
            return httpx.Response(422, json={"problems": [{"path": "entity_type", "reason": "Input should be 'person'"}]})
        else:
            body = {"entity_type": "person", "score": 0.55, "outcome": "no_hit", "explanation": ["names 0.55"]}
        return httpx.Response(200, json=body)

    monkeypatch.setattr(match.httpx, "post", post)
    return seen


def test_match_person_sends_the_entity_and_prints_the_candidates(calls) -> None:
    result = CliRunner().invoke(app, ["match", "person", "--name", "محمد ولد أحمد", "--birth-date", "1985",
                                      "--nationality", "MR", "--url", "http://hub:9999", "--token", "pcms_analyst"])
    assert result.exit_code == 0, result.output
    assert calls == [("http://hub:9999/v1/match", {"entity_type": "person", "limit": 10, "entity": {
        "names": ["محمد ولد أحمد"], "birth_date": "1985", "nationality": "MR"}}, "Bearer pcms_analyst")]
    assert "NE" in result.output and "hit" in result.output and "0.97" in result.output


def test_match_compare_reads_the_file_and_prints_score_and_reasons(calls, tmp_path: Path) -> None:
    pair = tmp_path / "pair.json"
    pair.write_text(json.dumps({"entity_type": "person", "left": {"names": ["A B"]}, "right": {"names": ["C D"]}}))
    result = CliRunner().invoke(app, ["match", "compare", str(pair)], env={"PCMS_TOKEN": "pcms_from_env"})
    assert result.exit_code == 0, result.output
    assert calls[0][0] == "http://127.0.0.1:8200/v1/match/compare" and calls[0][2] == "Bearer pcms_from_env"
    assert "no_hit" in result.output and "names 0.55" in result.output


def test_match_compare_prints_the_field_paths_of_a_refused_request(calls, tmp_path: Path) -> None:
    pair = tmp_path / "pair.json"
    pair.write_text(json.dumps({"entity_type": "ship", "left": {}, "right": {}}))
    result = CliRunner().invoke(app, ["match", "compare", str(pair)])
    assert result.exit_code == 1 and "entity_type: Input should be 'person'" in result.output
