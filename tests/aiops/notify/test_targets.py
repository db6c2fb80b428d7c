"""The outbound allow-list: loopback, metadata, private networks, IPv6 forms, names resolving inwards."""

from __future__ import annotations

import socket

import pytest

from aiops.notify.settings import OutboundSettings
from aiops.notify.targets import OutboundPolicy, TargetRefused, check_target, system_resolver

DEV = OutboundPolicy.from_settings(OutboundSettings(), "development")
PROD = OutboundPolicy.from_settings(OutboundSettings(), "production")
PROD_10 = OutboundPolicy.from_settings(OutboundSettings(allowed_networks=("10.20.0.0/16", "fd12:3456::/48")),
                                       "production")

# DNS is an outside service: tests answer for it with a table, as a resolver would.
DNS = {"hooks.example.com": ["93.184.216.34"], "sneaky.example.com": ["93.184.216.34", "10.0.0.5"],
       "internal.example.com": ["10.20.3.4"], "meta.example.com": ["169.254.169.254"],
       "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"], "ula.example.com": ["fd00::1"]}


def table(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://93.184.216.34:8080/",
                                 "https://[2606:2800:220:1:248:1893:25c8:1946]/", "https://v6.example.com/"])
def test_public_targets_are_allowed(url: str) -> None:
    assert check_target(url, PROD, table).addresses


@pytest.mark.parametrize("url", ["http://127.0.0.1:9999/", "http://[::1]/", "http://127.8.9.10/",
                                 "http://[::ffff:127.0.0.1]/", "http://[::127.0.0.1]/"])
def test_loopback_only_in_development(url: str) -> None:
    with pytest.raises(TargetRefused, match="loopback"):
        check_target(url, PROD, table)
    assert check_target(url, DEV, table)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                                 "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/",
                                 "http://meta.example.com/"])
def test_cloud_metadata_is_refused_even_in_development(url: str) -> None:
    with pytest.raises(TargetRefused, match="metadata"):
        check_target(url, DEV, table)


@pytest.mark.parametrize("url", ["http://10.20.3.4:9093/", "http://internal.example.com:9093/",
                                 "http://[fd12:3456::9]/"])
def test_a_private_network_only_when_listed(url: str) -> None:
    with pytest.raises(TargetRefused, match="non-public"):
        check_target(url, DEV, table)
    assert check_target(url, PROD_10, table)


@pytest.mark.parametrize("url", ["http://192.168.1.1/", "http://172.16.0.1/", "http://10.99.0.1/",
                                 "http://100.64.0.1/", "http://0.0.0.0/", "http://[::]/", "http://[fe80::1%25eth0]/",
                                 "http://ula.example.com/", "http://[::ffff:10.0.0.1]/", "http://224.0.0.1/",
                                 "http://[2002:a00:1::]/", "http://[ff0e::1]/", "http://240.0.0.1/"])
def test_other_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match="non-public"):
        check_target(url, PROD_10, table)


def test_a_name_resolving_to_any_private_address_is_refused() -> None:
    with pytest.raises(TargetRefused, match="10.0.0.5"):
        check_target("https://sneaky.example.com/", PROD, table)


def test_the_check_at_send_time_sees_a_rebound_name() -> None:
    dns = dict(DNS)
    target = check_target("https://flip.example.com/hook", PROD, lambda h, p: dns.get(h, ["93.184.216.34"]))
    dns["flip.example.com"] = ["169.254.169.254"]  # the attacker's DNS answers differently now
    with pytest.raises(TargetRefused, match="metadata"):
        check_target(target.url, PROD, lambda h, p: dns[h])


def test_the_sender_connects_to_the_vetted_address_with_the_name_kept() -> None:
    target = check_target("https://hooks.example.com:8443/x?y=1", PROD, table)
    url, headers, extensions = target.pinned()
    assert url == "https://93.184.216.34:8443/x?y=1"
    assert headers == {"Host": "hooks.example.com:8443"} and extensions == {"sni_hostname": "hooks.example.com"}
    with pytest.raises(ValueError):
        target.pinned("10.0.0.5")


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433", "0x7f.0.0.1"])
def test_numeric_and_local_names_resolve_to_loopback_first(host: str) -> None:
    """The machine's own resolver (no network needed) turns these forms into 127.0.0.1 or ::1."""
    with pytest.raises(TargetRefused, match="loopback"):
        check_target(f"http://{host}:9093/", PROD, system_resolver)


def test_allow_public_false_keeps_to_listed_hosts() -> None:
    strict = OutboundPolicy.from_settings(OutboundSettings(allow_public=False, allowed_hosts=("*.slack.com",
                                                                                             "hooks.example.com")),
                                          "production")
    assert check_target("https://hooks.example.com/", strict, table)
    assert check_target("https://hooks.slack.com/services/x", strict, lambda h, p: ["34.1.2.3"])
    with pytest.raises(TargetRefused, match="allowed_hosts"):
        check_target("https://v6.example.com/", strict, table)


@pytest.mark.parametrize("url, reason", [("ftp://hooks.example.com/", "scheme"), ("http:///x", "no host"),
                                         ("http://nowhere.example.com/", "does not resolve"),
                                         ("http://hooks.example.com:0/", "port 0")])
def test_what_is_not_a_target(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        check_target(url, DEV, table)


def test_bad_allow_list_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="CIDR"):
        OutboundSettings(allowed_networks=("10.0.0.0/33",))
    with pytest.raises(ValueError, match="host name"):
        OutboundSettings(allowed_hosts=("https://x.example.com",))
