"""Who may have sent what arrives on a queue: trust rules and the verdict on one message. Pure.

The consumer runtime gathers the evidence (queue, AMQP user_id, signature headers, properties,
body) and asks `MessageVerifier.check`; a refused message goes to quarantine with the reason and
never reaches its handler.

Trust rules, by queue:
  hub.ingress.P.<lane>          signer P; the envelope's origin must be P
  hub.routing.<lane>            signer HUB (the hub's enrichment)
  inbox.P.<lane>, held.P,
  checkpoints.P                 signer HUB
  audit.P.<lane>, audit.P       signer P or HUB (P a member)
  audit.HUB.<lane>, audit.HUB   any platform of the federation
and for every queue: the key is known, of that signer and not retired; the signature verifies;
signed-at is neither older than the freshness limit (a replay) nor in the future; the AMQP
user_id (which the broker guarantees is the publishing connection's user) is one of the signer's
broker users, or the consumer's own user (its own retries and delays send the message back).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.federation import Federation
from shared.messaging import names
from shared.security.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
    header_text,
    load_public_key,
    signature_valid,
)

DEFAULT_MAX_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class TrustRule:
    signers: frozenset[str]
    origin: str | None = None  # the envelope's origin must be this platform


@dataclass(frozen=True)
class Evidence:
    """What the runtime hands over about one delivery."""

    queue: str
    user_id: str | None
    headers: Mapping[str, Any]
    message_id: str | None
    type: str | None
    correlation_id: str | None
    body: bytes


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str = ""
    signer: str | None = None
    origin: str | None = None  # when set, the parsed envelope's origin must equal it

    def origin_problem(self, envelope_origin: object) -> str | None:
        """Why the parsed message is refused despite its signature (an origin it may not claim), if it is."""
        if self.origin is not None and envelope_origin != self.origin:
            return f"origin spoofed: the envelope says origin {envelope_origin!r} but it came from {self.origin}"
        return None


def refused(reason: str) -> Verdict:
    return Verdict(False, reason)


def trust_rule(queue: str, federation: Federation) -> TrustRule | None:
    """Who may sign what arrives on this queue; None for a queue this federation does not know."""
    hub = federation.hub.code
    parts = queue.split(".")
    if len(parts) == 4 and parts[:2] == ["hub", "ingress"] and federation.knows(parts[2]):
        return TrustRule(frozenset({parts[2]}), origin=parts[2])
    if len(parts) == 3 and parts[:2] == ["hub", "routing"]:
        return TrustRule(frozenset({hub}))
    if len(parts) == 3 and parts[0] == "inbox" and federation.knows(parts[1]):
        return TrustRule(frozenset({hub}))
    if len(parts) == 2 and parts[0] in ("held", "checkpoints") and federation.knows(parts[1]):
        return TrustRule(frozenset({hub}))
    if parts[0] == "audit" and (len(parts) == 2 or len(parts) == 3 and parts[2] in names.LANES) \
            and federation.knows(parts[1]):
        if parts[1] == hub:
            return TrustRule(frozenset(p.code for p in federation.platforms))
        return TrustRule(frozenset({parts[1], hub}))
    return None


def parse_signed_at(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def judge(evidence: Evidence, federation: Federation, *, own_user: str | None, now: datetime,
          max_age: timedelta = DEFAULT_MAX_AGE, public_key: Callable[[str], Ed25519PublicKey] = load_public_key) -> Verdict:
    """Accept or refuse one delivery, with the reason."""
    rule = trust_rule(evidence.queue, federation)
    if rule is None:
        return refused(f"no trust rule for queue {evidence.queue}")
    headers = evidence.headers or {}
    key_id = header_text(headers.get(KEY_ID_HEADER))
    if not key_id or not headers.get(SIGNATURE_HEADER) or not headers.get(SIGNED_AT_HEADER):
        return refused("unsigned: missing " + ", ".join(
            h for h in (KEY_ID_HEADER, SIGNATURE_HEADER, SIGNED_AT_HEADER) if not headers.get(h)))
    key = federation.verification_key(key_id)
    if key is None:
        return refused(f"unknown signing key {key_id}")
    if key.platform not in rule.signers:
        return refused(f"signed by {key.platform} (key {key_id}), but {evidence.queue} takes only what "
                       f"{' or '.join(sorted(rule.signers))} signed")
    if not key.is_active:
        return refused(f"signing key {key_id} of {key.platform} is retired")
    try:
        verifying_key = public_key(key.public_key)
    except ValueError:
        return refused(f"signing key {key_id} of {key.platform} is malformed in the keyring")
    if not signature_valid(verifying_key, headers=headers, message_id=evidence.message_id, type=evidence.type,
                           correlation_id=evidence.correlation_id, body=evidence.body):
        return refused(f"bad signature: the message does not verify with key {key_id} of {key.platform} "
                       "(tampered, or signed over something else)")
    signed_at = parse_signed_at(header_text(headers.get(SIGNED_AT_HEADER)))
    if signed_at is None:
        return refused(f"unreadable {SIGNED_AT_HEADER}")
    if now - signed_at > max_age:
        return refused(f"stale: signed at {signed_at.isoformat()}, older than {max_age} (a possible replay)")
    if signed_at - now > CLOCK_SKEW:
        return refused(f"signed in the future ({signed_at.isoformat()})")
    allowed_users = federation.broker_users_of(key.platform) | ({own_user} if own_user else set())
    if not evidence.user_id:
        return refused(f"no AMQP user_id: the publisher of a message signed by {key.platform} is not validated")
    if evidence.user_id not in allowed_users:
        return refused(f"user_id {evidence.user_id!r} does not match the signer {key.platform} "
                       f"(expected {' or '.join(sorted(allowed_users))})")
    return Verdict(True, signer=key.platform, origin=rule.origin)


class MessageVerifier:
    """`judge` against the live federation, with decoded public keys kept; always on in services.

    An unknown key id makes it reread the federation's files once (`refresh`) before refusing: a
    platform that has just rotated may sign with its new key a moment before this process's
    periodic reread has seen the keyring change.
    """

    def __init__(self, federation: Callable[[], Federation], *, own_user: str | None,
                 max_age: timedelta = DEFAULT_MAX_AGE, refresh: Callable[[], object] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._federation = federation
        self.own_user = own_user
        self._max_age = max_age
        self._refresh = refresh
        self._clock = clock
        self._decoded: dict[str, Ed25519PublicKey] = {}

    def _public_key(self, text: str) -> Ed25519PublicKey:
        decoded = self._decoded.get(text)
        if decoded is None:
            decoded = self._decoded[text] = load_public_key(text)
        return decoded

    def check(self, evidence: Evidence) -> Verdict:
        federation = self._federation()
        key_id = header_text((evidence.headers or {}).get(KEY_ID_HEADER))
        if key_id and self._refresh is not None and federation.verification_key(key_id) is None:
            try:
                self._refresh()
            except Exception:  # an unreadable file is the watcher's to report; judge with what we have
                pass
            federation = self._federation()
        return judge(evidence, federation, own_user=self.own_user, now=self._clock(), max_age=self._max_age,
                     public_key=self._public_key)
