"""Fuzzing the wire decoder: whatever arrives on a queue, `registry.parse` returns a contract or raises an
error the runtime quarantines - nothing else, never slowly - and nothing that breaks a contract gets in.

Seeds are the frozen fixtures of every release (tests/contract/fixtures/<version>/): a valid message of
every wire type. Each property mutates them (drop, rename, retype a field, add an unknown one, a wrong
version, huge strings, deep nesting, NaN, invalid UTF-8, Arabic and mixed scripts) or feeds arbitrary
bytes and JSON. Whatever is accepted must also be what the schema admits and survive being sent on.
"""

import ast
import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

jsonschema_rs = pytest.importorskip("jsonschema_rs")  # comes with schemathesis, a test dependency

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.contracts import registry
from shared.contracts.catalogue import SCHEMA_OF
from shared.contracts.registry import UnknownWireType
from shared.contracts.generate import SCHEMA_DIR
from shared.contracts.events import MAX_ITEM_BODY_CHARS
from shared.contracts.versioning import CURRENT, SCHEMAS_ROOT, VERSION_HEADER, IncompatibleVersion, message_version
from shared.messaging import runtime
from shared.messaging.runtime import quarantine_reason

pytestmark = [pytest.mark.unit, pytest.mark.security, pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parents[1] / "contract" / "fixtures"
# What Consumer.on_message quarantines (test_the_runtime_quarantines_exactly_what_the_decoder_raises checks it).
QUARANTINED = (ValidationError, UnknownWireType, KeyError, ValueError)
SLOW_SECONDS = 5.0  # one decode; the slowest seen is a few milliseconds
NEWER_MINOR = f"{CURRENT.major}.{CURRENT.minor + 8}"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seeds() -> list[tuple[str, dict[str, Any]]]:
    released = [path for path in sorted(FIXTURES.glob("*/*.json")) if (SCHEMAS_ROOT / path.parent.name).is_dir()]
    return [(f"{path.parent.name}/{path.stem}", json.loads(path.read_text(encoding="utf-8"))) for path in released]


SEEDS = _seeds()
SEED_IDS = [name for name, _ in SEEDS]
WIRE_TYPES = sorted(registry.WIRE_TYPES)
SCHEMAS = {wire: jsonschema_rs.validator_for(json.loads((SCHEMA_DIR / f"{stem}.json").read_text(encoding="utf-8")))
           for wire, stem in SCHEMA_OF.items()}


# --- the decoder, watched -------------------------------------------------------------------------


def decode(type_name: str | None, body: bytes, headers: dict[str, Any] | None = None) -> BaseModel | Exception:
    """registry.parse: a contract, or the quarantined error; any other exception fails the test as it is."""
    started = time.perf_counter()
    try:
        result: BaseModel | Exception = registry.parse(type_name, body, headers)
    except QUARANTINED as error:
        assert quarantine_reason(error)  # the runtime can say why
        result = error
    elapsed = time.perf_counter() - started
    assert elapsed < SLOW_SECONDS, f"decoding {len(body)} bytes took {elapsed:.1f}s"
    if isinstance(result, BaseModel):
        assert_admitted_by_the_schema(type_name, body, headers)
        assert_sendable(result)
    return result


def assert_admitted_by_the_schema(type_name: str | None, body: bytes, headers: dict[str, Any] | None) -> None:
    """What the decoder reads strictly (not a newer minor's message), the committed JSON Schema admits."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        pytest.fail(f"accepted a body that is not JSON: {body[:200]!r}")
    if message_version(data, headers) > CURRENT or _padded(data):
        return  # a newer minor's fields are ignored; the contracts trim whitespace, patterns do not
    errors = [error.message for error in SCHEMAS[str(type_name)].iter_errors(data)][:3]
    assert not errors, f"accepted what the {type_name} schema refuses: {errors}"


def _padded(data: Any) -> bool:
    return any(isinstance(node, str) and node != node.strip() for _, node in locations(data)) or any(
        isinstance(node, dict) and any(key != key.strip() for key in node) for _, node in locations(data))


def assert_sendable(model: BaseModel) -> None:
    """What a consumer accepted, the hub forwards: as this service would publish it, it parses back equal."""
    body = model.model_dump_json().encode()  # as shared/messaging/outgoing.py and the audit appender send it
    again = registry.parse(registry.wire_name(model), body, {VERSION_HEADER: str(CURRENT)})
    assert again == model


def refused(result: BaseModel | Exception) -> bool:
    return isinstance(result, Exception)


def body_of(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def seed_model(fixture: dict[str, Any]) -> BaseModel:
    return registry.parse(fixture["wire_type"], body_of(fixture["body"]), fixture["headers"])


def strict_headers(fixture: dict[str, Any]) -> dict[str, Any]:
    """The seed's headers, or the current version: a message that is not of a newer minor is read strictly."""
    return dict(fixture["headers"]) or {VERSION_HEADER: str(CURRENT)}


# --- where to mutate ------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def locations(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from locations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from locations(value, (*path, index))


def free_form(path: Path_) -> bool:
    """Inside a field whose values the contract does not type (canonical: any JSON; detail: str|number|...)."""
    return "canonical" in path or ("detail" in path and path.index("detail") < len(path) - 1)


def contract_at(model: BaseModel, path: Path_) -> BaseModel | None:
    """The contract object at a location of the parsed seed, or None inside free-form data."""
    node: Any = model
    for part in path:
        if isinstance(node, BaseModel) and isinstance(part, str):
            node = getattr(node, part)
        elif isinstance(node, (list, tuple)) and isinstance(part, int):
            node = node[part]
        else:
            return None
    return node if isinstance(node, BaseModel) else None


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def put(data: Any, path: Path_, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    get(data, path[:-1])[path[-1]] = value
    return data


seeds = st.sampled_from(SEEDS)
mixed_scripts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),  # anything printable, any script
        st.sampled_from("محمد ولد أحمد عبد الرحمن ⴰⵎⴰⵣⵉⵖ ߒߞߏ Moussa Issoufou \u200f\u200e\u202e\u0651\u064b ـ"),
    ),
    min_size=1,
    max_size=60,
)
unknown_keys = st.builds(lambda suffix: f"x_fuzz_{suffix}", st.text(min_size=0, max_size=12))
other_json_types: dict[type, list[Any]] = {
    str: [7, 1.5, True, ["x"], {"x": 1}],
    int: ["7", [1], {"x": 1}, True],
    float: ["0.5", [0.5], {"x": 1}, True],
    bool: ["true", 1, 0, [True], {"x": 1}],
    list: ["x", 1, {"x": 1}, True],
    dict: ["x", 1, [], True],
    type(None): [{"x_fuzz": 1}, [None]],
}
non_finite = st.sampled_from([float("nan"), float("inf"), float("-inf")])
invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xa0\xa1", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"])
wrong_versions = st.one_of(
    st.integers(min_value=0, max_value=99).filter(lambda major: major != CURRENT.major).map(lambda major: f"{major}.0"),
    st.text(max_size=12).filter(lambda text: not text.strip().replace(".", "").isdigit()),
    st.sampled_from(["1", "1.", ".1", "v1.0", "1.0.0", "1.x", "١.٠", "۱.۱", ""]),
)


# --- properties -----------------------------------------------------------------------------------


def test_the_seeds_cover_every_wire_type_of_the_current_release() -> None:
    assert {fixture["wire_type"] for name, fixture in SEEDS if name.startswith(f"{CURRENT}/")} == registry.WIRE_TYPES


def test_the_runtime_quarantines_exactly_what_the_decoder_raises() -> None:
    """Every except clause around parse() in shared/messaging/runtime.py (a delivery, a batch, a batch's item)
    names every error this module allows, in a tuple or through a tuple of the module."""
    tree = ast.parse(Path(runtime.__file__).read_text(encoding="utf-8"))
    checked = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "parse"
            for statement in node.body for call in ast.walk(statement)
        ):
            handled = node.handlers[0].type
            if isinstance(handled, ast.Name):
                caught = {error.__name__ for error in getattr(runtime, handled.id)}
            else:
                assert isinstance(handled, ast.Tuple)
                caught = {element.id for element in handled.elts if isinstance(element, ast.Name)}
            assert {error.__name__ for error in QUARANTINED} <= caught
            checked += 1
    assert checked >= 3, "no try around parse() in shared/messaging/runtime.py"


@pytest.mark.parametrize(("name", "fixture"), SEEDS, ids=SEED_IDS)
def test_valid_messages_of_every_release_round_trip(name: str, fixture: dict[str, Any]) -> None:
    model = decode(fixture["wire_type"], body_of(fixture["body"]), fixture["headers"])
    assert isinstance(model, BaseModel), model
    assert registry.wire_name(model) == fixture["wire_type"]


@FUZZ
@given(
    type_name=st.one_of(st.sampled_from(WIRE_TYPES), st.none(), st.text(max_size=30)),
    body=st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(lambda text: text.encode("utf-8", "surrogatepass"))),
    headers=st.one_of(st.none(), st.dictionaries(
        st.sampled_from([VERSION_HEADER, "x-other"]),
        st.one_of(st.text(max_size=10), st.binary(max_size=10), st.integers(), st.none(), st.lists(st.integers(), max_size=3)),
        max_size=2)),
)
def test_arbitrary_bytes_are_refused_with_a_quarantined_error(type_name: str | None, body: bytes, headers: Any) -> None:
    decode(type_name, body, headers)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), mixed_scripts,
              st.sampled_from(["alert", "H0", "NE", "police", "2026-11-29T10:15:00Z", "0b6f1c1e-6a4e-4d43-9a55-3d6f1f1f8a01"])),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(["kind", "message", "body", "schema_version", "origin", "entities",
                                                   "persons", "names", "detail", "hits", "summary"]), st.text(max_size=8)),
                        children, max_size=6),
    ),
    max_leaves=40,
)


@FUZZ
@given(type_name=st.sampled_from(WIRE_TYPES), data=json_values,
       headers=st.one_of(st.just({}), st.just({VERSION_HEADER: str(CURRENT)}), st.just({VERSION_HEADER: NEWER_MINOR})))
def test_arbitrary_json_is_refused_or_is_a_valid_contract(type_name: str, data: Any, headers: dict[str, Any]) -> None:
    decode(type_name, body_of(data), headers)


@FUZZ
@given(seed=seeds, data=st.data())
def test_a_missing_required_field_is_refused_and_a_missing_optional_one_takes_its_default(
    seed: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    _, fixture = seed
    model = seed_model(fixture)
    fields = [path for path, _ in locations(fixture["body"]) if path and isinstance(path[-1], str)
              and contract_at(model, path[:-1]) is not None]
    path = data.draw(st.sampled_from(fields))
    body = copy.deepcopy(fixture["body"])
    del get(body, path[:-1])[path[-1]]
    result = decode(fixture["wire_type"], body_of(body), strict_headers(fixture))
    owner = contract_at(model, path[:-1])
    info = type(owner).model_fields[str(path[-1])]
    if info.is_required():
        assert refused(result), f"accepted without required {'.'.join(map(str, path))}"
    elif not refused(result):  # or refused by a rule that needs it (evaluation of an alert, reason of a refusal)
        accepted_owner = contract_at(result, path[:-1])
        assert getattr(accepted_owner, str(path[-1])) == info.get_default(call_default_factory=True)


@FUZZ
@given(seed=seeds, data=st.data(), key=unknown_keys, value=json_values, rename=st.booleans())
def test_an_unknown_or_renamed_field_is_refused_unless_a_newer_minor_added_it(
    seed: tuple[str, dict[str, Any]], data: st.DataObject, key: str, value: Any, rename: bool
) -> None:
    _, fixture = seed
    model = seed_model(fixture)
    objects = [path for path, node in locations(fixture["body"]) if isinstance(node, dict) and not free_form(path)
               and contract_at(model, path) is not None]
    path = data.draw(st.sampled_from(objects))
    body = copy.deepcopy(fixture["body"])
    target = get(body, path)
    if rename and target:
        old = data.draw(st.sampled_from(sorted(target)))
        target[old + "_"] = target.pop(old)
    else:
        target[key] = value
    assert refused(decode(fixture["wire_type"], body_of(body), strict_headers(fixture)))
    newer = decode(fixture["wire_type"], body_of(body), {VERSION_HEADER: NEWER_MINOR})
    if not rename and not refused(newer):
        assert newer == model  # a newer minor's field is ignored, everything else read as before


@FUZZ
@given(seed=seeds, data=st.data())
def test_a_value_of_another_json_type_is_refused(seed: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    _, fixture = seed
    model = seed_model(fixture)
    values = [(path, node) for path, node in locations(fixture["body"])
              if path and not free_form(path) and path[-1] != "canonical" and type(node) in other_json_types
              and (isinstance(path[-1], int) or contract_at(model, path[:-1]) is not None)]
    path, node = data.draw(st.sampled_from(values))
    replacement = data.draw(st.sampled_from(other_json_types[type(node)]))
    if isinstance(node, int) and not isinstance(node, bool) and isinstance(replacement, float):
        return  # an integer where a number is expected is a number
    result = decode(fixture["wire_type"], body_of(put(fixture["body"], path, replacement)), strict_headers(fixture))
    assert refused(result), f"accepted {replacement!r} for {node!r} at {'.'.join(map(str, path))}"


@FUZZ
@given(seed=seeds, data=st.data(), value=non_finite)
def test_nan_and_infinity_are_refused_anywhere(seed: tuple[str, dict[str, Any]], data: st.DataObject, value: float) -> None:
    _, fixture = seed
    path = data.draw(st.sampled_from([path for path, _ in locations(fixture["body"]) if path]))
    assert refused(decode(fixture["wire_type"], body_of(put(fixture["body"], path, value)), fixture["headers"]))


@FUZZ
@given(seed=seeds, data=st.data(), version=wrong_versions, where=st.sampled_from(["header", "body"]))
def test_another_major_or_an_unreadable_version_is_refused(
    seed: tuple[str, dict[str, Any]], data: st.DataObject, version: str, where: str
) -> None:
    _, fixture = seed
    if where == "header":
        result = decode(fixture["wire_type"], body_of(fixture["body"]), {VERSION_HEADER: version})
        assert isinstance(result, IncompatibleVersion), result
    else:
        carriers = [path for path, node in locations(fixture["body"]) if isinstance(node, dict) and "schema_version" in node]
        if not carriers:
            return
        path = (*data.draw(st.sampled_from(carriers)), "schema_version")
        assert refused(decode(fixture["wire_type"], body_of(put(fixture["body"], path, version)), fixture["headers"]))


@settings(FUZZ, max_examples=40)
@given(seed=seeds, data=st.data(), size=st.integers(min_value=10_001, max_value=2_000_000), text=mixed_scripts)
def test_huge_strings_are_decoded_quickly(seed: tuple[str, dict[str, Any]], data: st.DataObject, size: int, text: str) -> None:
    _, fixture = seed
    strings = [path for path, node in locations(fixture["body"]) if path and isinstance(node, str)]
    path = data.draw(st.sampled_from(strings))
    huge = (text * (size // len(text) + 1))[:size]
    result = decode(fixture["wire_type"], body_of(put(fixture["body"], path, huge)), fixture["headers"])
    # every contract text is bounded: by 10,000 characters, a batch's item (a whole contract as text) by its own limit
    item_body = fixture["wire_type"] == registry.BATCH_RELAYED and path[-1] == "body"
    if not free_form(path) and size > (MAX_ITEM_BODY_CHARS if item_body else 10_000):
        assert refused(result), f"accepted {size} characters at {'.'.join(map(str, path))}"


@settings(FUZZ, max_examples=60)
@given(seed=seeds, data=st.data(), depth=st.integers(min_value=100, max_value=200_000), as_object=st.booleans())
def test_deep_nesting_is_refused(seed: tuple[str, dict[str, Any]], data: st.DataObject, depth: int, as_object: bool) -> None:
    _, fixture = seed
    path = data.draw(st.sampled_from([path for path, _ in locations(fixture["body"]) if path]))
    marker = "\u2063deep\u2063"
    body = body_of(put(fixture["body"], path, marker))
    opening, closing = (b'{"a":', b"}") if as_object else (b"[", b"]")
    nested = opening * depth + b"0" + closing * depth
    result = decode(fixture["wire_type"], body.replace(body_of(marker), nested), fixture["headers"])
    if not free_form(path) or depth > 200:  # canonical holds any JSON, up to pydantic's nesting limit of 200
        assert refused(result)


@FUZZ
@given(seed=seeds, data=st.data(), bad=invalid_utf8)
def test_invalid_utf8_is_refused(seed: tuple[str, dict[str, Any]], data: st.DataObject, bad: bytes) -> None:
    _, fixture = seed
    strings = [path for path, node in locations(fixture["body"]) if path and isinstance(node, str)]
    path = data.draw(st.sampled_from(strings))
    marker = "\u2063utf8\u2063"
    body = body_of(put(fixture["body"], path, f"a{marker}b")).replace(marker.encode(), bad)
    assert refused(decode(fixture["wire_type"], body, fixture["headers"]))


@FUZZ
@given(seed=seeds, data=st.data(), text=mixed_scripts)
def test_any_script_in_any_text_is_read_as_written_or_refused(
    seed: tuple[str, dict[str, Any]], data: st.DataObject, text: str
) -> None:
    """Arabic, Tifinagh, N'Ko, bidi marks, combining marks: free text keeps them exactly (after the
    contracts' whitespace trim); a coded field (pattern, enum, id) refuses what it cannot be."""
    _, fixture = seed
    strings = [path for path, node in locations(fixture["body"]) if path and isinstance(node, str)]
    path = data.draw(st.sampled_from(strings))
    result = decode(fixture["wire_type"], body_of(put(fixture["body"], path, text)), fixture["headers"])
    if not refused(result) and contract_at(result, path[:-1]) is not None and isinstance(path[-1], str):
        value = getattr(contract_at(result, path[:-1]), path[-1])
        assert str(getattr(value, "value", value)) == text.strip() or not isinstance(value, str)


@FUZZ
@given(seed=seeds, data=st.data(), text=mixed_scripts)
def test_names_and_summaries_in_mixed_scripts_round_trip(
    seed: tuple[str, dict[str, Any]], data: st.DataObject, text: str
) -> None:
    _, fixture = seed
    free_text = [path for path, node in locations(fixture["body"]) if path and isinstance(node, str) and not free_form(path)
                 and (path[-1] in {"summary", "question", "answer", "name"} or "names" in path or "aliases" in path)]
    if not free_text or not text.strip() or len(text.strip()) > 200:
        return
    path = data.draw(st.sampled_from(free_text))
    result = decode(fixture["wire_type"], body_of(put(fixture["body"], path, text)), fixture["headers"])
    assert not refused(result), result
    assert get(json.loads(result.model_dump_json()), path) == text.strip()


def test_text_with_a_nul_character_is_refused_because_no_store_can_keep_it() -> None:
    fixture = next(f for name, f in SEEDS if name == f"{CURRENT}/message_alert")
    result = decode(registry.MESSAGE, body_of(put(fixture["body"], ("body", "summary"), "Wanted\x00.")), {})
    assert isinstance(result, ValidationError)
    assert "body.summary" in quarantine_reason(result) and "NUL" in quarantine_reason(result)
    written = decode(registry.MESSAGE, body_of(put(fixture["body"], ("body", "summary"), "a literal \\u0000")), {})
    assert not refused(written)  # the six characters \u0000 are text, not a NUL


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_in_untyped_data_is_refused(token: bytes) -> None:
    fixture = next(f for name, f in SEEDS if name == f"{CURRENT}/message_enriched_with_hits")
    body = copy.deepcopy(fixture["body"])
    body["enrichment"]["entities"][0]["canonical"]["x_fuzz"] = "\u2063"
    result = decode(registry.MESSAGE_ENRICHED, body_of(body).replace(b'"\xe2\x81\xa3"', token), fixture["headers"])
    assert isinstance(result, ValidationError) and "not JSON" in quarantine_reason(result)


def test_a_number_in_a_date_field_is_refused_not_read_as_a_timestamp() -> None:
    fixture = next(f for name, f in SEEDS if name == f"{CURRENT}/message_alert")
    assert refused(decode(registry.MESSAGE, body_of(fixture["body"] | {"created_at": 1764410100}), {}))
    hop = next(f for name, f in SEEDS if name == f"{CURRENT}/checkpoint_published")
    assert refused(decode(registry.CHECKPOINT_PUBLISHED, body_of(hop["body"] | {"size": "116"}), {}))


def test_nesting_deeper_than_pythons_json_parser_goes_is_quarantined_not_a_crash() -> None:
    """json.loads raised RecursionError here, which the runtime would retry and park instead of quarantining."""
    for body in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * 5_000 + b"]" * 5_000):
        assert isinstance(decode(registry.MESSAGE, body, {}), ValidationError)


def test_the_schema_oracle_knows_every_wire_type() -> None:
    assert set(SCHEMAS) == registry.WIRE_TYPES
