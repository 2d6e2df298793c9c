"""Broker users for a test's federation: provisioned into the test's own vhost, removed afterwards."""

from pathlib import Path

from pydantic import SecretStr

from shared.federation import Federation
from shared.security.provisioning import HttpBrokerAdmin, ManagementAccess, ProvisionReport, provision, remove_users
from tests.infra import Broker


def admin_access(broker: Broker) -> ManagementAccess:
    return ManagementAccess(broker.management_url, broker.user, SecretStr(broker.password))


def provision_test_users(broker: Broker, amqp_url: str, federation: Federation, secrets_dir: Path) -> ProvisionReport:
    """Every user of the federation (its prefix is the test's own), passwords in secrets_dir, topology declared."""
    return provision(federation, amqp_url=amqp_url, secrets_dir=secrets_dir, access=admin_access(broker))


def remove_test_users(broker: Broker, federation: Federation) -> list[str]:
    assert federation.broker_user_prefix != "pcms-", "tests provision users with a prefix of their own"
    with HttpBrokerAdmin(admin_access(broker)) as admin:
        return remove_users(admin, federation.broker_user_prefix)
