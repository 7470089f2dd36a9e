"""
The pending login under concurrency, against a real gunicorn (two workers, four threads
each) on PostgreSQL, hit by many threads at once:

- one `mfa_token` completed by several right proofs at once opens exactly one session;
- ten wrong codes at once on one token: exactly five are checked (401 `invalid_code`), the
  rest find it dead (401 `mfa_token_invalid`), and the right code is refused afterwards;
- one TOTP code sent with six tokens at once is accepted exactly once;
- an expired token is refused.
"""

import uuid
from collections import Counter

import httpx
import psycopg
import pytest

from ..support.topology import (
    Gunicorn,
    concurrently,
    create_database,
    drop_database,
    manage,
    postgres_url,
    require,
    server_environment,
)
from .support import code_at

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

PASSWORD = "correct-horse-battery-9"
TIMEOUT = 120


class Service:
    def __init__(self, server, database_url):
        self.server, self.database_url = server, database_url

    def post(self, path, **kwargs):
        return httpx.post(f"{self.server.url}{path}", timeout=TIMEOUT, **kwargs)

    def sql(self, query, *params):
        with psycopg.connect(self.database_url) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    require("postgres", "gunicorn")
    var = tmp_path_factory.mktemp("var")
    dbname = create_database("authgate_mfa_concurrency")
    database_url = postgres_url(dbname)
    # The account's own login throttle is tested in-process; here the token's limits count.
    env = server_environment(database_url, AUTHGATE_VAR_DIR=str(var), AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m")
    server = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        server = Gunicorn(env, workers=2, threads=4, log_dir=var).start()
        yield Service(server, database_url)
    finally:
        if server is not None:
            server.stop()
        drop_database(dbname)


@pytest.fixture(scope="module")
def account(service):
    """An account with TOTP on (enrolled through the API with a real code)."""
    name = f"mfa-{uuid.uuid4().hex[:6]}"
    assert (
        service.post(
            "/api/auth/register/", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    access = service.post("/api/auth/login/", json={"username": name, "password": PASSWORD}).json()["access"]
    headers = {"Authorization": f"Bearer {access}"}
    secret = service.post("/api/auth/mfa/totp/", headers=headers).json()["secret"]
    confirmed = service.post("/api/auth/mfa/totp/confirm/", json={"code": code_at(secret, -1)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return {"name": name, "secret": secret, "codes": confirmed.json()["recovery_codes"]}


def mfa_token(service, account):
    response = service.post("/api/auth/login/", json={"username": account["name"], "password": PASSWORD})
    assert response.status_code == 403 and response.json()["code"] == "mfa_required", response.text
    return response.json()["mfa_token"]


def verify(service, token, code):
    return service.post("/api/auth/mfa/verify/", json={"mfa_token": token, "code": code})


def sessions_of(service, account):
    return service.sql(
        "SELECT count(*) FROM authgate_session s JOIN auth_user u ON u.id = s.user_id WHERE u.username = %s",
        account["name"],
    )[0][0]


def test_one_token_completed_by_several_right_proofs_at_once_opens_one_session(service, account):
    token = mfa_token(service, account)
    before = sessions_of(service, account)
    codes = account["codes"][:6]
    responses = concurrently(len(codes), lambda i: verify(service, token, codes[i]))
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes[(200, None)] == 1, outcomes
    assert outcomes[(401, "mfa_token_invalid")] == len(codes) - 1, outcomes
    assert sessions_of(service, account) == before + 1


def test_ten_wrong_codes_at_once_check_exactly_five_and_kill_the_token(service, account):
    token = mfa_token(service, account)
    responses = concurrently(10, lambda i: verify(service, token, f"{i:06d}"))
    outcomes = Counter(r.json()["code"] for r in responses)
    assert outcomes == {"invalid_code": 5, "mfa_token_invalid": 5}, outcomes
    assert all(r.status_code == 401 for r in responses)
    assert verify(service, token, account["codes"][9]).json()["code"] == "mfa_token_invalid"


def test_one_totp_code_sent_with_six_tokens_at_once_is_accepted_once(service, account):
    tokens = [mfa_token(service, account) for _ in range(6)]
    code = code_at(account["secret"])
    responses = concurrently(6, lambda i: verify(service, tokens[i], code))
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes == {(200, None): 1, (401, "invalid_code"): 5}, outcomes


def test_an_expired_token_is_refused(service, account):
    token = mfa_token(service, account)
    service.sql("UPDATE authgate_pendinglogin SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
    response = verify(service, token, account["codes"][8])
    assert response.status_code == 401 and response.json()["code"] == "mfa_token_invalid"
