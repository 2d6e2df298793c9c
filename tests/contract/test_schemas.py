"""The contracts are the interface between platforms: committed schemas, documented fields, strict models."""

import json
import types
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from shared.contracts.events import HopRecorded, MessageDispatched, MessageEnriched, RoutingDecided
from shared.contracts.generate import SCHEMA_DIR, current_schemas, differences, render
from shared.contracts.messages import (
    MESSAGE_ID_EXAMPLE,
    MessageAcknowledged,
    RfiAnswered,
    SubmitAcknowledgement,
    Message,
    SubmitMessage,
    SubmitRfiResponse,
)

pytestmark = pytest.mark.contract

ROOTS: tuple[Any, ...] = (SubmitMessage, Message, MessageEnriched, MessageDispatched, RoutingDecided, HopRecorded)

# Cross-field rules an example of one field cannot satisfy on its own: a reply needs the id it answers,
# whereas the documented example of in_reply_to is the common case (no reply, null).
CROSS_FIELD_OVERRIDES: dict[type[BaseModel], dict[str, Any]] = {
    model: {"in_reply_to": MESSAGE_ID_EXAMPLE}
    for model in (SubmitRfiResponse, SubmitAcknowledgement, RfiAnswered, MessageAcknowledged)
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType or origin is not None:
        return [model for arg in get_args(annotation) for model in _models_in(arg)]
    return []


def contract_models() -> list[type[BaseModel]]:
    """Every pydantic model reachable from the published contracts, nested ones included."""
    seen: dict[type[BaseModel], None] = {}
    todo = [model for root in ROOTS for model in _models_in(root)]
    while todo:
        model = todo.pop(0)
        if model in seen:
            continue
        seen[model] = None
        for info in model.model_fields.values():
            todo += _models_in(info.annotation)
    return sorted(seen, key=lambda m: m.__name__)


MODELS = contract_models()
FIELDS = [(model, name, info) for model in MODELS for name, info in model.model_fields.items()]


def _field_id(item: tuple[type[BaseModel], str, FieldInfo]) -> str:
    return f"{item[0].__name__}.{item[1]}"


def _field_adapter(info: FieldInfo) -> TypeAdapter[Any]:
    """Validates a value exactly as the field does: its type plus its constraints (min_length, ge, pattern...)."""
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def test_the_walk_reaches_nested_entity_models() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"AlertIssued", "SubmitAlert", "Entities", "Person", "Document", "Place", "Coordinates", "Evaluation",
            "Enrichment", "Hit", "NormalisedEntity", "RefusedRecipient", "HopRecorded"} <= names


def test_committed_schemas_match_the_contracts() -> None:
    committed = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMA_DIR.glob("*.json")}
    current = current_schemas()
    missing = sorted(current.keys() - committed.keys())
    extra = sorted(committed.keys() - current.keys())
    changed = sorted(name for name in current.keys() & committed.keys() if current[name] != committed[name])
    assert not (missing or extra or changed), (
        f"contract schemas in {SCHEMA_DIR} are out of date (missing {missing}, extra {extra}, changed {changed}): "
        "a contract changed without regenerating its schema; run `make contracts` and commit the result"
    )


def test_committed_schema_files_are_rendered_deterministically() -> None:
    assert differences() == [], "schema files are not in canonical form; run `make contracts`"
    for name, schema in current_schemas().items():
        assert render(schema) == render(json.loads(render(schema))), name


def test_the_schema_check_reports_missing_changed_and_extra_files(tmp_path: Any) -> None:
    schemas = current_schemas()
    names = sorted(schemas)
    for name in names[1:]:
        (tmp_path / name).write_text(render(schemas[name]), encoding="utf-8")
    (tmp_path / names[1]).write_text("{}\n", encoding="utf-8")
    (tmp_path / "stale.json").write_text("{}\n", encoding="utf-8")
    assert differences(tmp_path) == sorted(
        [f"missing: {tmp_path / names[0]}", f"differs: {tmp_path / names[1]}", f"extra: {tmp_path / 'stale.json'}"],
        key=lambda line: line.split(": ", 1)[1],
    )


@pytest.mark.parametrize("item", FIELDS, ids=_field_id)
def test_every_contract_field_has_a_description_and_an_example(item: tuple[type[BaseModel], str, FieldInfo]) -> None:
    model, name, info = item
    assert info.description and info.description.strip(), f"{model.__name__}.{name} has no description"
    assert info.examples, f"{model.__name__}.{name} has no example"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_contract_model_is_frozen_and_forbids_extra_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True, f"{model.__name__} is not frozen"
    assert model.model_config.get("extra") == "forbid", f"{model.__name__} accepts extra fields"

    with pytest.raises(ValidationError) as extra:
        model.model_validate({"not_a_field": 1})
    assert "extra_forbidden" in {error["type"] for error in extra.value.errors()}

    instance = model.model_construct()
    with pytest.raises(ValidationError) as frozen:
        setattr(instance, next(iter(model.model_fields)), None)
    assert frozen.value.errors()[0]["type"] == "frozen_instance"


@pytest.mark.parametrize("item", FIELDS, ids=_field_id)
def test_every_field_example_validates_against_the_field(item: tuple[type[BaseModel], str, FieldInfo]) -> None:
    model, name, info = item
    adapter = _field_adapter(info)
    for example in info.examples or []:
        try:
            adapter.validate_python(example)
        except ValidationError as error:
            pytest.fail(f"example {example!r} of {model.__name__}.{name} is invalid:\n{error}")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_model_built_from_its_field_examples_validates(model: type[BaseModel]) -> None:
    """Examples must also fit together: model-level rules (H3 needs a note, alerts an evaluation...) hold for them."""
    data = {name: info.examples[0] for name, info in model.model_fields.items() if info.examples}
    data |= CROSS_FIELD_OVERRIDES.get(model, {})
    try:
        instance = model.model_validate(data)
    except ValidationError as error:
        pytest.fail(f"{model.__name__} built from its field examples is invalid:\n{error}")
    assert model.model_validate_json(instance.model_dump_json()) == instance


def test_the_field_example_check_catches_a_wrong_example() -> None:
    """Guard on the check itself: a mistyped example, a constraint broken, a nested model broken all fail."""

    class Broken(BaseModel):
        count: int = 0
        when: UUID | None = None

    fields = Broken.model_fields
    assert _rejects(_field_adapter(fields["count"]), "many")
    assert _rejects(_field_adapter(fields["when"]), "not-a-uuid")
    pattern_field = current_field("Stamp", "origin")
    assert _rejects(_field_adapter(pattern_field), "niger")
    nested = current_field("Entities", "persons")
    assert _rejects(_field_adapter(nested), [{"names": []}])
    assert _rejects(_field_adapter(nested), [{"names": ["A"], "birth_date": "1985-13"}])


def current_field(model_name: str, field_name: str) -> FieldInfo:
    for model in MODELS:
        for base in model.__mro__:
            if base.__name__ == model_name and field_name in getattr(base, "model_fields", {}):
                return base.model_fields[field_name]
    raise LookupError(f"{model_name}.{field_name}")


def _rejects(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


def test_json_schema_examples_are_the_field_examples() -> None:
    """What other implementations read (the committed schema) documents the same examples as the code."""
    schema = current_schemas()["message.json"]
    alert = schema["$defs"]["AlertIssued"]["properties"]
    assert alert["origin"]["examples"] == ["NE"]
    assert all("description" in prop and "examples" in prop for prop in alert.values())

