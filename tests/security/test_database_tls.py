"""TLS to PostgreSQL from settings. The test server here has ssl=off, so no TLS handshake is made: the unit tests
check the SSLContext each mode builds (with certificates made on the spot), the integration test that the
options reach asyncpg (require is refused by this server; disable and prefer connect as before)."""

import datetime as dt
import ssl
from pathlib import Path

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from shared.db.connect import DatabaseTls, create_pool, database_dsn, ensure_database
from shared.settings import ServiceSettings

pytestmark = pytest.mark.security


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
                 *, ca: bool) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pg-tls")
    ca_key, client_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("pcms test CA", ca_key, None, ca=True)
    client = _certificate("pcms-mr", client_key, ("pcms test CA", ca_key), ca=False)
    files = {"ca": ca, "client": client}
    paths = {name: folder / f"{name}.pem" for name in ("ca", "client", "client_key", "other_key")}
    for name, certificate in files.items():
        paths[name].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    for name, key in (("client_key", client_key), ("other_key", other_key)):
        paths[name].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


@pytest.mark.unit
def test_unset_passes_nothing_so_the_url_decides_as_before() -> None:
    tls = DatabaseTls.from_settings(ServiceSettings(platform="MR"))
    assert tls == DatabaseTls() and tls.connect_kwargs() == {}


@pytest.mark.unit
def test_tls_options_in_the_server_url_reach_every_platform_database() -> None:
    """The other route, which needs no settings (the operators' CLI): libpq options in PCMS_DATABASE_URL."""
    url = "postgresql://pcms@db.g5.example:5432/postgres?sslmode=verify-full&sslrootcert=/etc/pcms/pg-ca.pem"
    assert database_dsn(url, "pcms_mr") == (
        "postgresql://pcms@db.g5.example:5432/pcms_mr?sslmode=verify-full&sslrootcert=/etc/pcms/pg-ca.pem")


@pytest.mark.unit
def test_disable_and_prefer_are_passed_as_modes() -> None:
    assert DatabaseTls("disable").connect_kwargs() == {"ssl": False}
    assert DatabaseTls("prefer").connect_kwargs() == {"ssl": "prefer"}


@pytest.mark.unit
def test_require_encrypts_without_checking_the_certificate() -> None:
    context = DatabaseTls("require").ssl_context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.unit
def test_require_with_a_root_certificate_verifies_the_chain_as_libpq_does(certificates: dict[str, Path]) -> None:
    context = DatabaseTls("require", root_cert=certificates["ca"]).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname


@pytest.mark.unit
def test_verify_ca_checks_the_chain_against_the_given_ca_only(certificates: dict[str, Path]) -> None:
    context = DatabaseTls("verify-ca", root_cert=certificates["ca"]).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and not context.check_hostname
    assert [dict(item[0] for item in cert["subject"])["commonName"] for cert in context.get_ca_certs()] == ["pcms test CA"]


@pytest.mark.unit
def test_verify_full_also_checks_the_host_name(certificates: dict[str, Path]) -> None:
    context = DatabaseTls("verify-full", root_cert=certificates["ca"]).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.unit
def test_a_root_certificate_without_a_mode_means_verify_full(certificates: dict[str, Path]) -> None:
    argument = DatabaseTls(root_cert=certificates["ca"]).ssl_argument()
    assert isinstance(argument, ssl.SSLContext) and argument.check_hostname


@pytest.mark.unit
def test_verify_full_without_a_root_certificate_uses_the_system_cas() -> None:
    context = DatabaseTls("verify-full").ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.unit
def test_a_client_certificate_is_loaded_with_its_key(certificates: dict[str, Path]) -> None:
    DatabaseTls("verify-full", root_cert=certificates["ca"], cert=certificates["client"],
                key=certificates["client_key"]).ssl_context()
    with pytest.raises(ssl.SSLError):  # a key that is not the certificate's
        DatabaseTls("verify-full", cert=certificates["client"], key=certificates["other_key"]).ssl_context()


@pytest.mark.unit
@pytest.mark.parametrize("tls", [DatabaseTls("require", cert=Path("client.pem")), DatabaseTls("require", key=Path("k.pem")),
                                 DatabaseTls("disable", root_cert=Path("ca.pem")), DatabaseTls("prefer", cert=Path("c.pem"),
                                                                                                key=Path("k.pem"))])
def test_contradictory_options_are_refused_at_start(tls: DatabaseTls) -> None:
    with pytest.raises(ValueError):
        tls.ssl_argument()


@pytest.mark.unit
def test_a_missing_certificate_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DatabaseTls("verify-full", root_cert=tmp_path / "absent.pem").ssl_context()


@pytest.mark.unit
def test_the_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, certificates: dict[str, Path]) -> None:
    monkeypatch.setenv("PCMS_DATABASE_SSL_MODE", "verify-ca")
    monkeypatch.setenv("PCMS_DATABASE_SSL_ROOT_CERT", str(certificates["ca"]))
    tls = DatabaseTls.from_settings(ServiceSettings(platform="MR"))
    assert tls == DatabaseTls("verify-ca", root_cert=certificates["ca"])
    monkeypatch.setenv("PCMS_DATABASE_SSL_MODE", "allow-anything")
    with pytest.raises(ValidationError):
        ServiceSettings(platform="MR")


@pytest.mark.integration
async def test_the_options_reach_the_server(postgres_url: str, unique: str) -> None:
    database = f"tls_{unique}"
    await ensure_database(postgres_url, database, tls=DatabaseTls("prefer"))  # this server has no TLS: prefer falls back
    pool = await create_pool(postgres_url, database, tls=DatabaseTls("disable"), min_size=1, max_size=1)
    try:
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
    finally:
        await pool.close()
    with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
        await create_pool(postgres_url, database, tls=DatabaseTls("require"), min_size=1, max_size=1)
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
    finally:
        await connection.close()
