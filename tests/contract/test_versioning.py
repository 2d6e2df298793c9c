"""The versioning check: each kind of breaking change is caught and named, additive changes pass.

Every test mutates a copy of the current schemas (as a changed model would generate them) and runs
the same comparison `python -m shared.contracts.versioning check` runs against the releases.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.generate import current_schemas, render
from shared.contracts.versioning import (
    BACKWARD,
    CURRENT,
    FORWARD,
    Version,
    check,
    compare_sets,
    main,
    release,
    releases,
)

pytestmark = pytest.mark.contract

Schemas = dict[str, dict[str, Any]]


@pytest.fixture
def released() -> Schemas:
    return current_schemas()


def mutate(schemas: Schemas, change: Any) -> Schemas:
    changed = copy.deepcopy(schemas)
    change(changed)
    return changed


def defs(schemas: Schemas, file: str = "message.json") -> dict[str, Any]:
    return schemas[file]["$defs"]


def breaking(old: Schemas, new: Schemas) -> list[tuple[str, str, frozenset[str]]]:
    return [(c.where, c.kind, c.breaks) for c in compare_sets(old, new) if c.breaks]


def test_the_current_contracts_are_compatible_with_every_release() -> None:
    verdict = check()
    assert verdict.ok, "\n".join(verdict.problems)
    assert CURRENT in releases()


def test_documentation_changes_are_not_changes(released: Schemas) -> None:
    def reword(s: Schemas) -> None:
        defs(s)["AlertBody"]["properties"]["summary"]["description"] = "Reworded."
        defs(s)["AlertBody"]["properties"]["summary"]["examples"] = ["Another example."]
        s["message.json"]["x-schema-version"] = "9.9"

    assert compare_sets(released, mutate(released, reword)) == []


def test_a_new_optional_field_is_additive(released: Schemas) -> None:
    def add(s: Schemas) -> None:
        for file in ("message.json", "message_enriched.json"):
            defs(s, file)["AlertBody"]["properties"]["threat_level"] = {"type": "string", "default": None}

    changes = compare_sets(released, mutate(released, add))
    assert changes and all(c.additive for c in changes)
    assert {(c.where, c.kind) for c in changes} == {("AlertBody.threat_level", "new optional field")}


def test_a_new_contract_is_additive(released: Schemas) -> None:
    new = mutate(released, lambda s: s.__setitem__("case_closed.json", {"type": "object", "title": "CaseClosed"}))
    assert [(c.kind, c.additive) for c in compare_sets(released, new)] == [("new contract", True)]


@pytest.mark.parametrize(("name", "change", "where", "kind", "breaks"), [
    ("removed required field", lambda s: (defs(s)["AlertBody"]["properties"].pop("summary"),
                                          defs(s)["AlertBody"]["required"].remove("summary")),
     "AlertBody.summary", "required field removed", {BACKWARD, FORWARD}),
    ("removed optional field", lambda s: defs(s)["AlertBody"]["properties"].pop("valid_until"),
     "AlertBody.valid_until", "field removed", {BACKWARD}),
    ("retyped field", lambda s: defs(s)["Coordinates"]["properties"]["lat"].update(type="string"),
     "Coordinates.lat", "retyped", {BACKWARD, FORWARD}),
    ("new required field", lambda s: (defs(s)["AlertBody"]["properties"].__setitem__("threat_level", {"type": "string"}),
                                      defs(s)["AlertBody"]["required"].append("threat_level")),
     "AlertBody.threat_level", "new required field", {BACKWARD}),
    ("optional field made required", lambda s: defs(s)["Person"]["required"].append("birth_date"),
     "Person.birth_date", "field became required", {BACKWARD}),
    ("required field made optional", lambda s: defs(s)["Person"]["required"].remove("names"),
     "Person.names", "field became optional", {FORWARD}),
    ("narrowed enum", lambda s: defs(s)["AlertType"]["enum"].remove("threat"),
     "AlertBody.alert_type", "enum narrowed", {BACKWARD}),
    ("widened enum", lambda s: defs(s)["AlertType"]["enum"].append("cyber"),
     "AlertBody.alert_type", "enum widened", {FORWARD}),
    ("tightened max length", lambda s: defs(s)["Phone"]["properties"]["number"].update(maxLength=16),
     "Phone.number", "constraint tightened", {BACKWARD}),
    ("tightened minimum", lambda s: defs(s)["Coordinates"]["properties"]["lat"].update(minimum=0),
     "Coordinates.lat", "constraint tightened", {BACKWARD}),
    ("loosened max items", lambda s: defs(s)["Person"]["properties"]["names"].update(maxItems=50),
     "Person.names", "constraint loosened", {FORWARD}),
    ("changed pattern", lambda s: defs(s)["AlertIssued"]["properties"]["origin"].update(pattern="^[A-Z]{2}$"),
     "AlertIssued.origin", "pattern changed", {BACKWARD, FORWARD}),
    ("no longer nullable", lambda s: defs(s)["Person"]["properties"].__setitem__(
        "birth_place", {"type": "string", "maxLength": 200, "minLength": 1}),
     "Person.birth_place", "no longer nullable", {BACKWARD}),
    ("new message kind", lambda s: s["message.json"]["discriminator"]["mapping"].__setitem__(
        "notice", "#/$defs/AlertIssued"), "Message", "kinds added", {FORWARD}),
])
def test_each_kind_of_break_is_caught(released: Schemas, name: str, change: Any, where: str, kind: str,
                                      breaks: set[str]) -> None:
    found = breaking(released, mutate(released, change))
    assert (where, kind, frozenset(breaks)) in found, f"{name}: {found}"


def _release_folder(root: Path, version: str, schemas: Schemas) -> None:
    folder = root / version
    folder.mkdir(parents=True)
    for name, schema in schemas.items():
        (folder / name).write_text(render(schema), encoding="utf-8")


def test_the_check_fails_on_a_break_without_a_major_bump_and_says_for_whom(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)
    changed = mutate(released, lambda s: [defs(s, f)["AlertType"]["enum"].remove("threat")
                                          for f in ("message.json", "message_enriched.json", "message_dispatched.json")])
    verdict = check(changed, version=Version(1, 1), root=tmp_path)
    assert not verdict.ok
    text = "\n".join(verdict.problems)
    assert "breaking change(s) since release 1.0 without a major bump" in text
    assert "AlertBody.alert_type" in text and "enum narrowed" in text and "values removed: ['threat']" in text
    assert "BACKWARD" in text
    assert "enrichment at hub (pcms.message" in text  # who reads message.json
    assert "routing at hub (pcms.message_enriched" in text
    assert "intake at every active platform" in text
    assert "bump SCHEMA_VERSION to 2.0" in text


def test_the_check_names_consumers_that_declare_they_read_the_field(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)

    def retype(s: Schemas) -> None:
        s["routing_decided.json"]["$defs"]["RefusedRecipient"]["properties"]["reason"]["type"] = "integer"

    verdict = check(mutate(released, retype), version=Version(1, 1), root=tmp_path)
    assert "intake at every active platform (its own inbox) (pcms.routing_decided on inbox." in verdict.problems[-1]
    assert "declares it reads this field" in verdict.problems[-1]


def test_additive_changes_pass_with_a_minor_bump(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)
    added = mutate(released, lambda s: defs(s)["Person"]["properties"].__setitem__("height_cm", {"type": "integer"}))
    _release_folder(tmp_path, "1.1", added)
    verdict = check(added, version=Version(1, 1), root=tmp_path)
    assert verdict.ok, verdict.problems
    assert any("compatible with release 1.0 (1 additive" in note for note in verdict.notes)


def test_a_frozen_release_cannot_change_even_additively(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)
    added = mutate(released, lambda s: defs(s)["Person"]["properties"].__setitem__("height_cm", {"type": "integer"}))
    verdict = check(added, version=Version(1, 0), root=tmp_path)
    assert not verdict.ok and "need SCHEMA_VERSION 1.1" in verdict.problems[0]


def test_a_major_bump_allows_breaking_changes(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)
    changed = mutate(released, lambda s: defs(s)["AlertType"]["enum"].remove("threat"))
    _release_folder(tmp_path, "2.0", changed)
    verdict = check(changed, version=Version(2, 0), root=tmp_path)
    assert verdict.ok, verdict.problems
    assert any("major bump 1.0 -> 2.0" in note for note in verdict.notes)


def test_a_version_must_be_released_and_never_go_backwards(tmp_path: Path, released: Schemas) -> None:
    _release_folder(tmp_path, "1.0", released)
    assert any("is not frozen" in p for p in check(released, version=Version(1, 1), root=tmp_path).problems)
    _release_folder(tmp_path, "1.2", released)
    assert any("older than the latest release 1.2" in p for p in check(released, version=Version(1, 1), root=tmp_path).problems)


def test_release_freezes_and_refuses_to_rewrite_a_changed_release(tmp_path: Path) -> None:
    target, done = release(root=tmp_path)
    assert target == tmp_path / str(CURRENT) and len(done) == len(current_schemas())
    path = target / "message.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["$defs"]["AlertType"]["enum"].append("cyber")
    path.write_text(render(schema), encoding="utf-8")
    _, done = release(root=tmp_path)
    assert "is frozen" in done[0]
    schema["$defs"]["AlertType"]["enum"].remove("cyber")
    schema["$defs"]["AlertType"]["description"] = "old words"
    path.write_text(render(schema), encoding="utf-8")
    _, done = release(root=tmp_path)  # documentation only: refreshed
    assert done == [f"wrote {path}"]


def test_the_command_line_check_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert f"contracts {CURRENT}: compatible" in capsys.readouterr().out
