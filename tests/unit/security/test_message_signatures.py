"""Signed bytes, signatures and the verdict of the trust rules, without a broker."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import yaml

from shared.federation import FederationFile, load_federation
from shared.security.keyring import KeyStatus
from shared.security.keys import KeyFile, SigningKeyMissing, ensure_signing_keys, load_signer, retire_key, rotate_key
from shared.security.origin import Evidence, MessageVerifier, judge, trust_rule
from shared.security.signing import (
    Signer,
    load_public_key,
    public_key_text,
    signature_valid,
    signed_bytes,
)
from tests.federations import federation_with, write_federation
from tests.signing import TestKeys, listed

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BODY = b'{"origin": "NE", "kind": "alert"}'


@pytest.fixture
def keys() -> TestKeys:
    return TestKeys(federation_with(BF="withdrawn"))


def delivery(keys: TestKeys, signer: str, queue: str, *, user: str | None = None, signed_at: datetime = NOW,
             **overrides: object) -> Evidence:
    """Evidence of a delivery signed as sent; `overrides` are what changed on the way."""
    body = BODY
    message_id, type_ = str(uuid4()), "pcms.message.v1"
    headers = {"x-pcms-schema-version": "1.2"} | Signer(keys.keys[signer], clock=lambda: signed_at).headers(
        message_id=message_id, type=type_, correlation_id="c-1", contract_version="1.2", body=body)
    fields = dict(queue=queue, user_id=user if user is not None else keys.federation.broker_user(signer),
                  headers=headers, message_id=message_id, type=type_, correlation_id="c-1", body=body)
    return Evidence(**(fields | overrides))  # type: ignore[arg-type]


def verdict(keys: TestKeys, evidence: Evidence, own_user: str | None = "pcms-hub", **kwargs):  # noqa: ANN201
    return judge(evidence, keys.federation, own_user=own_user, now=NOW, **kwargs)


def test_the_signed_bytes_cover_every_property_that_changes_the_meaning():
    base = dict(key_id="NE-20261129-abcd", signed_at="2026-11-29T12:00:00.000+00:00", message_id="m", type="t",
                correlation_id="c", contract_version="1.2", body=b"{}")
    reference = signed_bytes(**base)  # type: ignore[arg-type]
    assert reference.startswith(b'["pcms-sig/1","NE-20261129-abcd"')
    for name, other in [("key_id", "NE-20261129-ffff"), ("signed_at", "2026-11-29T12:00:01.000+00:00"),
                        ("message_id", "m2"), ("type", "t2"), ("correlation_id", "c2"), ("contract_version", "1.3"),
                        ("body", b"{ }")]:
        assert signed_bytes(**(base | {name: other})) != reference, name  # type: ignore[arg-type]


def test_a_signature_verifies_with_the_signers_key_only(keys):
    evidence = delivery(keys, "NE", "hub.ingress.NE.urgent")
    public = load_public_key(public_key_text(keys.keys["NE"].private))
    other = load_public_key(public_key_text(keys.keys["ML"].private))
    common = dict(headers=evidence.headers, message_id=evidence.message_id, type=evidence.type,
                  correlation_id=evidence.correlation_id)
    assert signature_valid(public, body=BODY, **common)
    assert not signature_valid(other, body=BODY, **common)
    assert not signature_valid(public, body=BODY.replace(b"NE", b"ML"), **common)


@pytest.mark.parametrize(("queue", "signers", "origin"), [
    ("hub.ingress.NE.urgent", {"NE"}, "NE"),
    ("hub.routing.routine", {"HUB"}, None),
    ("inbox.ML.bulk", {"HUB"}, None),
    ("held.TD", {"HUB"}, None),
    ("checkpoints.MR", {"HUB"}, None),
    ("audit.MR", {"MR", "HUB"}, None),
    ("audit.HUB", {"HUB", "MR", "ML", "BF", "NE", "TD"}, None),
    ("audit.MR.urgent", {"MR", "HUB"}, None),
    ("audit.HUB.bulk", {"HUB", "MR", "ML", "BF", "NE", "TD"}, None),
])
def test_each_queue_has_a_trust_rule_naming_who_may_sign_for_it(queue, signers, origin):
    rule = trust_rule(queue, federation_with())
    assert rule is not None and rule.signers == signers and rule.origin == origin


def test_an_unknown_queue_has_no_trust_rule_so_nothing_is_accepted_on_it(keys):
    assert trust_rule("somewhere.else", keys.federation) is None
    assert trust_rule("audit.MR.someday", keys.federation) is None
    assert not verdict(keys, delivery(keys, "HUB", "somewhere.else")).accepted


def test_a_message_signed_by_its_origin_and_published_as_its_user_is_accepted(keys):
    result = verdict(keys, delivery(keys, "NE", "hub.ingress.NE.urgent"))
    assert result.accepted and result.signer == "NE" and result.origin == "NE"
    assert result.origin_problem("NE") is None
    assert "origin spoofed" in result.origin_problem("ML")


@pytest.mark.parametrize(("change", "reason"), [
    (dict(body=b'{"origin": "NE", "kind": "ALERT"}'), "bad signature"),
    (dict(message_id=str(uuid4())), "bad signature"),
    (dict(type="pcms.hop_recorded.v1"), "bad signature"),
    (dict(correlation_id="c-2"), "bad signature"),
    (dict(headers={}), "unsigned"),
    (dict(user_id=None), "no AMQP user_id"),
    (dict(user_id="pcms-ml"), "does not match the signer NE"),
])
def test_what_was_changed_or_left_out_on_the_way_is_refused(keys, change, reason):
    result = verdict(keys, delivery(keys, "NE", "hub.ingress.NE.urgent", **change))
    assert not result.accepted and reason in result.reason


def test_a_message_signed_by_another_platform_is_refused_at_the_hub(keys):
    result = verdict(keys, delivery(keys, "ML", "hub.ingress.NE.urgent"))
    assert not result.accepted and "signed by ML" in result.reason


def test_what_only_the_hub_may_send_is_refused_when_a_member_signs_it(keys):
    assert not verdict(keys, delivery(keys, "NE", "inbox.ML.urgent")).accepted
    assert verdict(keys, delivery(keys, "HUB", "inbox.ML.urgent"), own_user="pcms-ml").accepted


def test_the_hub_audit_user_may_publish_what_the_hub_signs(keys):
    assert verdict(keys, delivery(keys, "HUB", "checkpoints.ML", user="pcms-hub-audit"), own_user="pcms-ml").accepted


def test_a_consumers_own_retries_come_back_under_its_own_user(keys):
    assert verdict(keys, delivery(keys, "NE", "hub.ingress.NE.urgent", user="pcms-hub"), own_user="pcms-hub").accepted
    assert not verdict(keys, delivery(keys, "NE", "hub.ingress.NE.urgent", user="pcms-hub"), own_user=None).accepted


def test_an_unknown_or_retired_key_is_refused(keys):
    evidence = delivery(keys, "NE", "hub.ingress.NE.urgent")
    retired = keys.federation.model_copy(update={"keys": tuple(
        listed(k, KeyStatus.RETIRED if k.platform == "NE" else KeyStatus.ACTIVE) for k in keys.keys.values())})
    result = judge(evidence, retired, own_user=None, now=NOW)
    assert not result.accepted and "retired" in result.reason
    empty = keys.federation.model_copy(update={"keys": ()})
    result = judge(evidence, empty, own_user=None, now=NOW)
    assert not result.accepted and "unknown signing key" in result.reason


def test_a_message_signed_long_ago_is_refused_as_a_possible_replay_and_one_from_the_future_too(keys):
    old = delivery(keys, "NE", "hub.ingress.NE.urgent", signed_at=NOW - timedelta(days=8))
    assert "stale" in verdict(keys, old).reason
    assert verdict(keys, old, max_age=timedelta(days=9)).accepted
    future = delivery(keys, "NE", "hub.ingress.NE.urgent", signed_at=NOW + timedelta(hours=1))
    assert "future" in verdict(keys, future).reason


def test_keys_are_made_once_listed_in_the_keyring_and_a_service_refuses_to_start_without_its_own(tmp_path):
    federation_file = write_federation(tmp_path / "federation.yaml", {}, BF="withdrawn")
    with pytest.raises(SigningKeyMissing, match="pcms keys init"):
        load_signer(tmp_path / "secrets", "NE")
    with pytest.raises(SigningKeyMissing, match="PCMS_SECRETS_DIR"):
        load_signer(None, "NE")
    created = ensure_signing_keys(federation_file, tmp_path / "secrets")
    assert sorted(k.split("-")[0] for k in created) == ["HUB", "ML", "MR", "NE", "TD"], "withdrawn BF has none"
    assert ensure_signing_keys(federation_file, tmp_path / "secrets") == [], "idempotent"
    assert yaml.safe_load(federation_file.read_text())["keyring"] == "keyring.yaml"
    federation = load_federation(federation_file)
    assert [k.status for k in federation.verification_keys("NE")] == [KeyStatus.ACTIVE]
    signer = load_signer(tmp_path / "secrets", "NE", federation)
    assert signer.key.key_id == federation.verification_keys("NE")[0].id
    assert oct((tmp_path / "secrets" / "signing" / "NE.pem").stat().st_mode & 0o777) == "0o600"


def test_a_federation_whose_keyring_file_is_missing_loads_without_keys(tmp_path):
    federation_file = write_federation(tmp_path / "federation.yaml", {})
    federation_file.write_text(federation_file.read_text() + "keyring: absent.yaml\n")
    assert load_federation(federation_file).keys == ()


def test_rotation_keeps_both_keys_until_the_old_is_retired_and_the_signer_follows(tmp_path):
    federation_file = write_federation(tmp_path / "federation.yaml", {})
    secrets = tmp_path / "secrets"
    ensure_signing_keys(federation_file, secrets)
    live = FederationFile(federation_file)
    signer = Signer(KeyFile(secrets, "NE", every_seconds=0))
    before = signer.key.key_id
    old, new = rotate_key(federation_file, secrets, "NE")
    assert old == before and signer.key.key_id == new
    assert live.refresh() and {k.id: k.status for k in live.current().verification_keys("NE")} == {
        old: KeyStatus.ACTIVE, new: KeyStatus.ACTIVE}
    with pytest.raises(ValueError, match="rotate first"):
        retire_key(federation_file, secrets, "NE", new)
    retire_key(federation_file, secrets, "NE", old)
    assert live.refresh() and live.current().verification_key(old).status is KeyStatus.RETIRED
    assert (secrets / "signing" / f"NE.{old}.pem").exists(), "the old private key is kept"


def test_the_verifier_rereads_the_keyring_when_a_key_is_new_to_it(tmp_path):
    federation_file = write_federation(tmp_path / "federation.yaml", {})
    secrets = tmp_path / "secrets"
    ensure_signing_keys(federation_file, secrets)
    live = FederationFile(federation_file)
    verifier = MessageVerifier(live.current, own_user=None, refresh=live.refresh, clock=lambda: NOW)
    rotate_key(federation_file, secrets, "NE")
    rotated = TestKeys(federation_with())
    rotated.keys["NE"] = load_signer(secrets, "NE").key
    evidence = delivery(rotated, "NE", "hub.ingress.NE.urgent")
    assert verifier.check(evidence).accepted
