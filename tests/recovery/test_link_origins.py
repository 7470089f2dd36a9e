"""
Reset and verification links go only to configured origins: outside DEBUG a relative link
takes the request's origin only when its host is named in ALLOWED_HOSTS on the scheme's
default port (or loopback), else LINK_ORIGINS decides; a forged port never makes a link.
The system checks say where links go.
"""

import pytest
from django.core import checks
from django.test import override_settings

from ..conftest import bearer
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

HOSTS = ["auth.example.com", "127.0.0.1", "localhost", "testserver"]


def ask_reset(client, host, **extra):
    response = client.post(
        "/api/auth/password/reset/", {"email": "alice@example.com"}, format="json", HTTP_HOST=host, **extra
    )
    assert response.status_code == 202, response.content
    return response


def reset_mail(smtp):
    (mail,) = smtp.wait_for("alice@example.com")
    return mail


def links_in(mail):
    import re

    return re.findall(r"\S*action=reset-password\S*", mail.text)


def authgate_settings(settings, **values):
    return {**(getattr(settings, "AUTHGATE", {}) or {}), **values}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = HOSTS


def test_a_forged_port_gets_no_link_to_it(api_client, user, smtp, production, caplog):
    ask_reset(api_client, "auth.example.com:31337")
    mail = reset_mail(smtp)
    assert "31337" not in mail.text and "31337" not in mail.html and "31337" not in mail.subject
    (link,) = links_in(mail)
    assert link.startswith("/?action=reset-password&uid="), link  # a path: no origin qualified
    assert any("not an allowed link origin" in record.getMessage() for record in caplog.records)


def test_a_named_host_on_its_default_port_gets_its_link(api_client, user, smtp, production):
    ask_reset(api_client, "auth.example.com")
    assert reset_mail(smtp).link.startswith("http://auth.example.com/?action=reset-password&uid=")


def test_a_host_allowed_only_by_a_wildcard_gets_no_link(api_client, user, smtp, settings, production):
    settings.ALLOWED_HOSTS = ["*"]
    ask_reset(api_client, "evil.example.net")
    mail = reset_mail(smtp)
    assert "evil.example.net" not in mail.text
    assert links_in(mail)[0].startswith("/?action=")


def test_loopback_keeps_its_port_for_the_local_demo(api_client, user, smtp, production):
    ask_reset(api_client, "127.0.0.1:8123")
    assert reset_mail(smtp).link.startswith("http://127.0.0.1:8123/?action=reset-password&uid=")


def test_link_origins_decide_whatever_the_request_says(api_client, user, smtp, settings, production):
    origins = ["https://auth.example.com", "https://auth.example.com:8443"]
    settings.AUTHGATE = authgate_settings(settings, LINK_ORIGINS=origins)
    ask_reset(api_client, "auth.example.com:31337")
    assert reset_mail(smtp).link.startswith("https://auth.example.com/?action=reset-password&uid=")
    smtp.clear()
    ask_reset(api_client, "auth.example.com:8443", secure=True)
    assert reset_mail(smtp).link.startswith("https://auth.example.com:8443/?action=reset-password&uid=")


def test_an_absolute_link_url_is_used_as_it_is(api_client, user, smtp, settings, production):
    settings.AUTHGATE = authgate_settings(
        settings, PASSWORD_RESET_URL="https://app.example.org/reset?uid={uid}&token={token}"
    )
    ask_reset(api_client, "auth.example.com:31337")
    assert reset_mail(smtp).link.startswith("https://app.example.org/reset?uid=")


def test_the_verification_link_follows_the_same_rule(api_client, user, tokens_for, smtp, production):
    access = tokens_for(user)["access"]
    response = api_client.post("/api/auth/email/verify/resend/", HTTP_HOST="auth.example.com:31337", **bearer(access))
    assert response.status_code == 202, response.content
    (mail,) = smtp.wait_for("alice@example.com")
    assert "31337" not in mail.text


def test_debug_takes_the_request_origin_on_any_port(api_client, user, smtp, settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = HOSTS
    ask_reset(api_client, "auth.example.com:8000")
    assert reset_mail(smtp).link.startswith("http://auth.example.com:8000/?action=")


def _ids(messages):
    return {message.id for message in messages}


def test_the_checks_say_where_links_go(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["auth.example.com"]
    deploy = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    (message,) = [m for m in deploy if m.id == "authgate.W020"]
    assert "auth.example.com" in message.msg and "default port" in message.msg
    assert "authgate.W020" not in _ids(checks.run_checks(tags=[checks.Tags.security]))  # deploy only

    settings.ALLOWED_HOSTS = ["*"]
    assert "authgate.W021" in _ids(checks.run_checks(tags=[checks.Tags.security]))

    settings.AUTHGATE = authgate_settings(settings, LINK_ORIGINS=["https://auth.example.com"])
    ids = _ids(checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security]))
    assert not ids & {"authgate.W020", "authgate.W021", "authgate.E020"}

    settings.AUTHGATE = authgate_settings(settings, LINK_ORIGINS=["auth.example.com/reset"])
    assert "authgate.E020" in _ids(checks.run_checks(tags=[checks.Tags.security]))

    with override_settings(DEBUG=True, ALLOWED_HOSTS=["*"], AUTHGATE={}):
        ids = _ids(checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security]))
        assert not ids & {"authgate.W020", "authgate.W021"}
