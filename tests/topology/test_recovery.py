"""
Account recovery end to end, as deployed: the service under gunicorn (two worker
processes, the service's own settings, a fresh PostgreSQL database) with EMAIL_HOST and
EMAIL_PORT pointing at a real SMTP server on loopback (aiosmtpd, tests/support/smtp.py),
driven over HTTP.

- registration delivers a verification mail whose link flips `email_verified`;
- a reset mail arrives; its link sets a new password once; every old token of the user is
  refused on the next request (whichever worker answers); the old password fails and the
  new one works;
- twelve reset requests for one address deliver five mails, with the default limits;
- DELETE me/ ends every session and static token.
"""

import uuid

import httpx
import pytest

from ..support.smtp import smtp_server  # noqa: F401  (fixture)
from ..support.topology import Gunicorn, create_database, drop_database, manage, postgres_url, server_environment

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

PASSWORD = "correct-horse-battery-9"
NEW_PASSWORD = "Brand-new-passphrase-42"
TIMEOUT = 60  # generous: under load an Argon2 login can take seconds


@pytest.fixture(scope="module")
def service(smtp_server, tmp_path_factory):  # noqa: F811
    dbname = create_database("authgate_recovery")
    env = server_environment(
        postgres_url(dbname), AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")), **smtp_server.environment()
    )
    server = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")  # the throttles' counts, shared by the workers
        server = Gunicorn(env, workers=2).start()
        yield server
    finally:
        if server:
            server.stop()
        drop_database(dbname)


def call(server, method, path, token=None, scheme="Bearer", **kwargs):
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return httpx.request(method, f"{server.url}/api/auth/{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def login(server, username, password=PASSWORD):
    return call(server, "POST", "login/", json={"username": username, "password": password})


def assert_refused_everywhere(server, tokens, static_key=None):
    """Several requests each, so that both workers answer some."""
    for _ in range(4):
        for pair in tokens:
            response = httpx.get(
                f"{server.url}/api/protected/", headers={"Authorization": f"Bearer {pair['access']}"}, timeout=TIMEOUT
            )
            assert response.status_code == 401, response.text
        if static_key:
            response = httpx.get(
                f"{server.url}/api/protected/", headers={"Authorization": f"Token {static_key}"}, timeout=TIMEOUT
            )
            assert response.status_code == 401, response.text
    for pair in tokens:
        assert call(server, "POST", "token/refresh/", json={"refresh": pair["refresh"]}).status_code == 401


def register(server, smtp_server):  # noqa: F811
    name = f"ada{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    response = call(server, "POST", "register/", json={"username": name, "email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return name, email


def test_verification_then_reset_ends_every_session_and_works_once(service, smtp_server):  # noqa: F811
    name, email = register(service, smtp_server)
    [verification] = smtp_server.wait_for(email)
    first = login(service, name).json()
    assert call(service, "GET", "me/", first["access"]).json()["email_verified"] is False
    response = call(service, "POST", "email/verify/", json=verification.uid_and_token)
    assert response.status_code == 200, response.text
    assert call(service, "GET", "me/", first["access"]).json()["email_verified"] is True

    second = login(service, email).json()
    response = call(service, "POST", "password/reset/", json={"email": email.upper()})
    assert response.status_code == 202
    unknown = call(service, "POST", "password/reset/", json={"email": f"nobody-{name}@example.com"})
    assert (unknown.status_code, unknown.content) == (response.status_code, response.content)
    [reset_mail] = smtp_server.wait_for(email, 2)[1:]
    assert reset_mail.link.startswith(f"{service.url}/?")  # the account page of the service's own origin

    response = call(
        service, "POST", "password/reset/confirm/", json={**reset_mail.uid_and_token, "new_password": "short"}
    )
    assert response.status_code == 400 and "new_password" in response.json()
    response = call(
        service, "POST", "password/reset/confirm/", json={**reset_mail.uid_and_token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["sessions_ended"] == 2

    assert_refused_everywhere(service, [first, second])
    assert login(service, name).status_code == 401
    assert login(service, name, NEW_PASSWORD).status_code == 200
    again = call(
        service,
        "POST",
        "password/reset/confirm/",
        json={**reset_mail.uid_and_token, "new_password": "Another-passphrase-43"},
    )
    assert again.status_code == 400 and again.json()["code"] == "invalid_link"
    assert smtp_server.to(f"nobody-{name}@example.com") == []


def test_twelve_reset_requests_deliver_five_mails(service, smtp_server):  # noqa: F811
    name, email = register(service, smtp_server)
    smtp_server.wait_for(email)  # the verification mail
    answers = [call(service, "POST", "password/reset/", json={"email": email}) for _ in range(12)]
    assert [r.status_code for r in answers] == [202] * 5 + [429] * 7
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers[5:])
    assert len(smtp_server.wait_for(email, 6)) == 6  # verification + five resets
    # A throttled request composes no mail; a later mail to someone else arriving shows
    # that nothing more was on its way.
    _, other = register(service, smtp_server)
    smtp_server.wait_for(other)
    assert len(smtp_server.to(email)) == 6


def test_deleting_the_account_ends_everything(service, smtp_server):  # noqa: F811
    name, _ = register(service, smtp_server)
    first, second = login(service, name).json(), login(service, name).json()
    key = call(service, "POST", "tokens/", first["access"], json={"name": "ci"}).json()["token"]
    response = call(service, "DELETE", "me/", second["access"], json={"password": "wrong"})
    assert response.status_code == 400
    response = call(service, "DELETE", "me/", second["access"], json={"password": PASSWORD})
    assert response.status_code == 204, response.text
    assert_refused_everywhere(service, [first, second], static_key=key)
    assert login(service, name).status_code == 401
