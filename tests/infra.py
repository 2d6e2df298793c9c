"""Where the tests find RabbitMQ and PostgreSQL: environment first, then the local services, then testcontainers."""

import os
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Broker:
    amqp_url: str  # without vhost path
    management_url: str
    user: str
    password: str

    def vhost_url(self, vhost: str) -> str:
        parts = urlsplit(self.amqp_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def find_broker() -> tuple[Broker, object | None]:
    url = os.environ.get("AMQP_URL")
    if url:
        parts = urlsplit(url)
        management = os.environ.get("RABBITMQ_MANAGEMENT_URL", f"http://{parts.hostname}:15672")
        return Broker(urlunsplit((parts.scheme, parts.netloc, "/", "", "")), management,
                      parts.username or "guest", parts.password or "guest"), None
    if answers("127.0.0.1", 5672):
        return Broker("amqp://guest:guest@127.0.0.1:5672/", "http://127.0.0.1:15672", "guest", "guest"), None
    from testcontainers.rabbitmq import RabbitMqContainer

    container = RabbitMqContainer("rabbitmq:3.10-management").with_exposed_ports(5672, 15672)
    container.start()
    host = container.get_container_host_ip()
    return Broker(
        f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/",
        f"http://{host}:{container.get_exposed_port(15672)}", "guest", "guest",
    ), container


def find_postgres() -> tuple[str, object | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    if answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres", None
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:15", driver=None)
    container.start()
    return container.get_connection_url(), container
