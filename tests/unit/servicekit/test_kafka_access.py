"""A service reaches every broker of a cluster it is given, not a host named after the list."""

from __future__ import annotations

from servicekit.kafka import KafkaAccess, service_broker

CLUSTER = "127.0.0.1:9092, 127.0.0.1:9192,127.0.0.1:9292"


def test_a_comma_separated_list_is_one_bootstrap_server_each() -> None:
    kafka = KafkaAccess(CLUSTER)
    assert kafka.servers == ["127.0.0.1:9092", "127.0.0.1:9192", "127.0.0.1:9292"]
    assert kafka.options()["bootstrap_servers"] == kafka.servers


def test_the_services_broker_is_given_every_server_of_the_cluster() -> None:
    broker = service_broker(KafkaAccess(CLUSTER), client_id="test")
    # faststream wraps a single string into a list of one "host": the list must be split first.
    assert broker._connection_kwargs["bootstrap_servers"] == KafkaAccess(CLUSTER).servers
