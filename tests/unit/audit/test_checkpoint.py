import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.domain.checkpoint import (
    Checkpoint,
    checkpoint_body,
    from_json_dict,
    from_signed_note,
    key_id,
    private_key_from_pem,
    private_key_from_raw,
    private_key_to_pem,
    public_key_from_pem,
    public_key_from_raw,
    public_key_to_pem,
    public_key_to_raw,
    sign_checkpoint,
    to_json_dict,
    to_signed_note,
    verify_checkpoint,
)

pytestmark = pytest.mark.unit

# RFC 8032 section 7.1, test 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")

LOG = "pcms.g5sahel.example/audit/hub"
ROOT = hashlib.sha256(b"some root").digest()
AT = datetime(2026, 11, 29, 10, 15, 2, 5, tzinfo=UTC)


@pytest.fixture
def signer() -> Ed25519PrivateKey:
    return private_key_from_raw(RFC8032_SECRET)


@pytest.fixture
def keys(signer):
    public = signer.public_key()
    return {key_id(public): public}


@pytest.fixture
def checkpoint(signer) -> Checkpoint:
    return sign_checkpoint(LOG, 1234, ROOT, AT, signer, key_id(signer.public_key()))


def test_key_id_is_first_four_bytes_of_sha256_of_the_raw_public_key(signer):
    assert public_key_to_raw(signer.public_key()) == RFC8032_PUBLIC
    assert key_id(signer.public_key()) == hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:8]


def test_signed_text_is_origin_size_base64_root_and_time_lines():
    expected = f"{LOG}\n1234\n{base64.b64encode(ROOT).decode()}\ntime 2026-11-29T10:15:02.000005Z\n"
    assert checkpoint_body(LOG, 1234, ROOT, AT) == expected.encode()


def test_signed_checkpoint_verifies_with_the_signer_public_key(checkpoint, keys):
    assert verify_checkpoint(checkpoint, keys)


@pytest.mark.parametrize(
    "changes",
    [
        {"size": 1235},
        {"root": hashlib.sha256(b"other root").digest()},
        {"at": AT + timedelta(microseconds=1)},
        {"log_id": "pcms.g5sahel.example/audit/other"},
        {"signature": bytes(64)},
    ],
)
def test_any_change_to_a_signed_checkpoint_breaks_its_signature(checkpoint, keys, changes):
    assert not verify_checkpoint(replace(checkpoint, **changes), keys)


def test_signature_by_an_unknown_or_mislabelled_key_is_refused(checkpoint, keys):
    stranger = Ed25519PrivateKey.generate().public_key()
    assert not verify_checkpoint(checkpoint, {})
    assert not verify_checkpoint(checkpoint, {checkpoint.key_id: stranger})
    forged = sign_checkpoint(LOG, 1234, ROOT, AT, Ed25519PrivateKey.generate(), checkpoint.key_id)
    assert not verify_checkpoint(forged, keys)


def test_time_zone_of_the_signing_time_does_not_matter(checkpoint, keys):
    elsewhere = replace(checkpoint, at=AT.astimezone(timezone(timedelta(hours=-1))))
    assert verify_checkpoint(elsewhere, keys)


def test_json_round_trip_preserves_a_verifiable_checkpoint(checkpoint, keys):
    data = to_json_dict(checkpoint)
    assert data["root"] == ROOT.hex()
    assert data["at"] == "2026-11-29T10:15:02.000005Z"
    restored = from_json_dict(data)
    assert restored == checkpoint
    assert verify_checkpoint(restored, keys)


@pytest.mark.parametrize(
    "changes",
    [
        {"root": "zz"},
        {"root": "ab" * 31},
        {"size": -1},
        {"size": True},
        {"size": "12"},
        {"at": "2026-11-29T10:15:02"},
        {"signature": "not base64!"},
        {"key_id": "ABCDEF12"},
        {"log_id": "has space"},
    ],
)
def test_malformed_json_checkpoints_are_refused(checkpoint, changes):
    with pytest.raises(ValueError):
        from_json_dict(to_json_dict(checkpoint) | changes)


def test_missing_json_field_is_refused(checkpoint):
    data = to_json_dict(checkpoint)
    del data["signature"]
    with pytest.raises(ValueError):
        from_json_dict(data)


def test_signed_note_round_trip(checkpoint, keys):
    note = to_signed_note(checkpoint)
    body, signature_line = note.split("\n\n")
    assert body + "\n" == checkpoint.body.decode()
    assert signature_line.startswith(f"\u2014 {LOG} ")
    stamp = base64.b64decode(signature_line.split(" ")[2])
    assert stamp == bytes.fromhex(checkpoint.key_id) + checkpoint.signature
    assert from_signed_note(note) == checkpoint
    assert verify_checkpoint(from_signed_note(note), keys)


@pytest.mark.parametrize(
    "edit",
    [
        lambda note: note.replace("\n\n", "\n"),
        lambda note: note.replace("\u2014 pcms", "- pcms"),
        lambda note: note.replace("\u2014 pcms.g5sahel.example/audit/hub", "\u2014 someone-else"),
        lambda note: note.replace("\n1234\n", "\n+1234\n"),
        lambda note: note.replace("time ", "when "),
    ],
)
def test_malformed_signed_notes_are_refused(checkpoint, edit):
    with pytest.raises(ValueError):
        from_signed_note(edit(to_signed_note(checkpoint)))


def test_checkpoint_refuses_malformed_fields(checkpoint):
    with pytest.raises(ValueError):
        replace(checkpoint, root=b"short")
    with pytest.raises(ValueError):
        replace(checkpoint, at=datetime(2026, 11, 29))
    with pytest.raises(ValueError):
        replace(checkpoint, signature=b"x")
    with pytest.raises(ValueError):
        replace(checkpoint, log_id="two\nlines")


def test_keys_survive_pem_and_raw_round_trips(signer, tmp_path):
    pem_path = tmp_path / "audit-signing.pem"
    pem_path.write_bytes(private_key_to_pem(signer, password=b"correct horse"))
    restored = private_key_from_pem(pem_path.read_bytes(), password=b"correct horse")
    assert public_key_to_raw(restored.public_key()) == RFC8032_PUBLIC
    assert public_key_to_raw(private_key_from_pem(private_key_to_pem(signer)).public_key()) == RFC8032_PUBLIC
    public = public_key_from_pem(public_key_to_pem(signer.public_key()))
    assert public_key_to_raw(public) == RFC8032_PUBLIC
    assert public_key_to_raw(public_key_from_raw(RFC8032_PUBLIC)) == RFC8032_PUBLIC


def test_pem_holding_another_key_type_is_refused():
    other = ec.generate_private_key(ec.SECP256R1())
    private_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError):
        private_key_from_pem(private_pem)
    with pytest.raises(ValueError):
        public_key_from_pem(public_pem)
