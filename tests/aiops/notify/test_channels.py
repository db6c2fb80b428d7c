"""Channel configs: strict per type, secrets and token-bearing URLs never shown back or logged."""

from __future__ import annotations

import doctest

import orjson
import pytest
from pydantic import ValidationError

from aiops.notify import channels as module
from aiops.notify.channels import channel_to_storage, parse_channel, public_view, stored_view

SLACK_URL = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx"
SECRET = "whsec-0123456789abcdefghij"


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_each_type_has_its_fields_and_refuses_others() -> None:
    assert parse_channel({"name": "am", "type": "alertmanager", "url": "http://am:9093"}).alerts_url == \
        "http://am:9093/api/v2/alerts"
    with pytest.raises(ValidationError, match="secret"):
        parse_channel({"name": "hook", "type": "webhook", "url": "https://x.example.com"})  # secret required
    with pytest.raises(ValidationError, match="extra_forbidden"):
        parse_channel({"name": "s", "type": "slack", "url": SLACK_URL, "secret": SECRET})
    with pytest.raises(ValidationError, match="union_tag_invalid"):
        parse_channel({"name": "e", "type": "email", "url": "https://x.example.com"})
    with pytest.raises(ValidationError, match="16 to 256"):
        parse_channel({"name": "hook", "type": "webhook", "url": "https://x.example.com", "secret": "short"})


@pytest.mark.parametrize("url, message", [
    ("ftp://x.example.com/", "http"), ("https:///nohost", "host"), ("https://x.example.com/a b", "spaces"),
    ("https://x.example.com:99999/", "(?i)port"), ("https://x.example.com/#frag", "fragment"),
    ("https://x.example.com/" + "a" * 2100, "2048"),
])
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_channel({"name": "hook", "type": "webhook", "url": url, "secret": SECRET})


@pytest.mark.parametrize("token", ["abc\r\nX-Evil: 1", "tok\x00en", "\u00fc-token", "two words", "", "t" * 4097])
def test_a_bearer_token_is_one_header_safe_token(token: str) -> None:
    """A token that cannot go into an Authorization header is refused at creation, and not repeated."""
    with pytest.raises(ValidationError, match="bearer_token") as refused:
        parse_channel({"name": "am", "type": "alertmanager", "url": "http://am:9093", "bearer_token": token})
    assert not any(token and token in problem["msg"] for problem in refused.value.errors())
    fine = "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo"
    assert parse_channel({"name": "am", "type": "alertmanager", "url": "http://am:9093",
                          "bearer_token": fine}).bearer_token.get_secret_value() == fine


def test_slack_needs_https_except_to_loopback() -> None:
    with pytest.raises(ValidationError, match="https://"):
        parse_channel({"name": "s", "type": "slack", "url": SLACK_URL.replace("https", "http")})
    with pytest.raises(ValidationError, match="https://"):  # a private address is a network hop: no
        parse_channel({"name": "s", "type": "slack", "url": "http://10.0.0.5/services/T0/B0/x"})
    for url in ("http://127.0.0.1:8099/services/T0/B0/x", "http://[::1]:8099/s", "http://localhost/s"):
        assert parse_channel({"name": "s", "type": "slack", "url": url}).url_text() == url


def test_secrets_and_urls_are_shown_as_prefixes_only() -> None:
    hook = parse_channel({"name": "hook", "type": "webhook", "url": "https://u:pw@hooks.example.com/t/abcdef123456?k=v",
                          "secret": SECRET})
    slack = parse_channel({"name": "s", "type": "slack", "url": SLACK_URL})
    am = parse_channel({"name": "am", "type": "alertmanager", "url": "http://admin:pw@am.internal:9093/?token=x",
                        "bearer_token": "bearer-0123456789abc"})
    shown = {cid: public_view(cid, ch).model_dump_json() for cid, ch in (("h", hook), ("s", slack), ("a", am))}
    for text in shown.values():
        for secret in (SECRET, "abcdef123456", "pw", "abcdefghijklmnopqrstuvwx", "bearer-0123456789abc", "token=x"):
            assert secret not in text
    assert public_view("h", hook).secret == "whse…" and public_view("h", hook).url == "https://hooks.example.com/t/abcde…"
    assert public_view("a", am).url == "http://am.internal:9093/" and public_view("a", am).bearer_token == "bear…"
    for channel in (hook, slack, am):  # nor in a repr (a log line)
        assert SECRET not in repr(channel) and "abcdefghijklmnopqrstuvwx" not in repr(channel)


def test_storage_keeps_everything_and_reads_back_the_same() -> None:
    hook = parse_channel({"name": "hook", "type": "webhook", "url": "https://hooks.example.com/t", "secret": SECRET,
                          "min_severity": "error"})
    stored = channel_to_storage(hook)
    assert stored["secret"] == SECRET and stored["url"] == "https://hooks.example.com/t"
    assert parse_channel(stored) == hook


def test_a_stored_row_this_version_refuses_is_shown_with_its_problem_and_no_secret() -> None:
    good = orjson.dumps(channel_to_storage(parse_channel({"name": "hook", "type": "webhook",
                                                          "url": "https://hooks.example.com/t", "secret": SECRET})))
    assert stored_view("ch-1", "hook", "webhook", good.decode()).problem is None
    # A secret a later version finds too short, and a row that is not JSON at all.
    old = good.decode().replace(SECRET, "short-secret")
    for config in (old, "{not json"):
        view = stored_view("ch-2", "hook", "webhook", config)
        assert view.problem and view.problem.startswith("stored channel no longer valid")
        assert view.url == "" and view.secret is None and "short-secret" not in view.model_dump_json()
    assert "secret:" in stored_view("ch-2", "hook", "webhook", old).problem  # names the field
    # A type a later version added (a row left behind by a rollback), and a URL whose parse
    # error would quote its credentials.
    later = stored_view("ch-3", "pd", "pagerduty", orjson.dumps({"name": "pd", "type": "pagerduty",
                                                                   "url": "https://x.example.com"}).decode())
    assert later.type == "pagerduty" and later.problem and later.min_severity is None
    leaky = good.decode().replace("https://hooks.example.com/t", "https://user:s3cr3tpw@ex\uff0fample.com/x")
    shown = stored_view("ch-4", "hook", "webhook", leaky)
    assert shown.problem and "s3cr3tpw" not in shown.model_dump_json()
