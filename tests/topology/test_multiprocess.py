"""
Many server processes sharing PostgreSQL and Redis, for real: two
gunicorn servers (A and B, two workers each) on a fresh PostgreSQL database and a Redis
database, started as subprocesses with the service's own settings.

- a logout answered by one server is honoured by the other on the next request, and so
  is invalidate-all;
- 50 concurrent refreshes of one token end with one chain; 50 concurrent logins of one
  user give 50 distinct sessions;
- the database unreachable: JSON 503 `database_unavailable`, not a 500 or HTML.
"""

import uuid

import httpx
import psycopg
import pytest

from ..support.topology import (
    concurrently,
    REDIS_SERVER_URL,
    SERVERS_REDIS_DB,
    Gunicorn,
    create_database,
    drop_database,
    free_port,
    manage,
    postgres_url,
    require,
    server_environment,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct-horse-battery-9"
STAFF = ("root", "root-horse-battery-9")


class Cluster:
    def __init__(self, a, b, database_url, redis_url):
        self.a, self.b = a, b
        self.database_url = database_url
        self.redis_url = redis_url

    def sql(self, query, *params):
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require("postgres", "redis", "gunicorn")
    import redis

    dbname = create_database("authgate_multiprocess")
    redis_url = f"{REDIS_SERVER_URL}/{SERVERS_REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    env = server_environment(
        postgres_url(dbname),
        redis_url,
        DJANGO_SUPERUSER_USERNAME=STAFF[0],
        DJANGO_SUPERUSER_PASSWORD=STAFF[1],
        AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
        # 50 logins from one address in a test: not what the failed-login throttle is about
        # (each password check in flight holds a place in both counts until it succeeds).
        AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m",
        AUTHGATE_LOGIN_THROTTLE_IP="1000/15m",
    )
    servers = []
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "ensure_superuser")
        # Threads too, so that many requests really are in flight at once on each server.
        for _ in range(2):
            servers.append(Gunicorn(env, workers=2, threads=4).start())
        yield Cluster(*servers, postgres_url(dbname), redis_url)
    finally:
        for server in servers:
            server.stop()
        drop_database(dbname)
        redis.Redis.from_url(redis_url).flushdb()


# Generous: under load an Argon2 login can take seconds; a timeout here is no finding.
TIMEOUT = 60


def post(url, **kwargs):
    return httpx.post(url, timeout=TIMEOUT, **kwargs)


def get(url, **kwargs):
    return httpx.get(url, timeout=TIMEOUT, **kwargs)


def register(server, username):
    response = post(
        f"{server.url}/api/auth/register/",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    return response.json()


def login(server, username, password=PASSWORD, **extra):
    response = post(f"{server.url}/api/auth/login/", json={"username": username, "password": password, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(access):
    return {"Authorization": f"Bearer {access}"}


def protected(server, access):
    return get(f"{server.url}/api/protected/", headers=bearer(access))


def assert_refused(response, reason="revoked"):
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == reason


def each_worker(server, access, times=6):
    """Several requests, so that every worker process of the server answers some."""
    return [protected(server, access) for _ in range(times)]


def test_logout_through_b_is_honoured_by_a_on_the_next_request(cluster):
    username = f"mp-{uuid.uuid4().hex[:8]}"
    register(cluster.a, username)
    phone = login(cluster.a, username, device="phone")
    laptop = login(cluster.a, username, device="laptop")
    # Every worker of both servers has checked (and trusted Redis for) these tokens.
    assert all(r.status_code == 200 for r in each_worker(cluster.a, phone["access"]))
    assert all(r.status_code == 200 for r in each_worker(cluster.b, phone["access"]))

    response = post(f"{cluster.b.url}/api/auth/logout/", headers=bearer(phone["access"]))
    assert response.status_code == 200, response.text

    for response in each_worker(cluster.a, phone["access"]):
        assert_refused(response)
    refresh = post(f"{cluster.a.url}/api/auth/token/refresh/", json={"refresh": phone["refresh"]})
    assert refresh.status_code == 401
    # The other device of the same user is untouched, on both servers.
    assert all(r.status_code == 200 for r in each_worker(cluster.a, laptop["access"]))
    assert all(r.status_code == 200 for r in each_worker(cluster.b, laptop["access"]))


def test_invalidate_all_through_one_server_is_seen_by_the_other(cluster):
    username = f"mp-{uuid.uuid4().hex[:8]}"
    register(cluster.b, username)
    user_tokens = [login(cluster.a, username), login(cluster.b, username)]
    staff = login(cluster.b, STAFF[0], STAFF[1])
    for tokens in user_tokens:
        assert protected(cluster.a, tokens["access"]).status_code == 200

    response = post(f"{cluster.b.url}/api/auth/admin/invalidate-all-tokens/", headers=bearer(staff["access"]))
    assert response.status_code == 200, response.text
    assert response.json()["sessions_ended"] >= 3

    for tokens in [*user_tokens, staff]:
        for response in each_worker(cluster.a, tokens["access"], times=4):
            assert_refused(response)
    (open_sessions,) = cluster.sql("SELECT count(*) FROM authgate_session WHERE ended_at IS NULL")[0]
    assert open_sessions == 0
    # A new login works at once.
    assert protected(cluster.a, login(cluster.b, username)["access"]).status_code == 200


def test_fifty_concurrent_refreshes_of_one_token_end_with_one_chain(cluster):
    username = f"mp-{uuid.uuid4().hex[:8]}"
    register(cluster.a, username)
    first = login(cluster.a, username)
    servers = [cluster.a, cluster.b]

    def refresh(i):
        return post(f"{servers[i % 2].url}/api/auth/token/refresh/", json={"refresh": first["refresh"]})

    responses = concurrently(50, refresh)
    statuses = [r.status_code for r in responses]
    ok = [r.json() for r in responses if r.status_code == 200]
    # Inside the retry window every loser of the race gets the winner's pair; nothing else.
    assert set(statuses) <= {200, 401}, statuses
    assert ok, statuses
    pairs = {(body["access"], body["refresh"]) for body in ok}
    assert len(pairs) == 1, f"{len(pairs)} different pairs: the session forked"
    # Exactly one rotation happened: the chain advanced by one generation.
    sid = uuid.UUID(first["session_id"])
    (generation, ended_at) = cluster.sql("SELECT generation, ended_at FROM authgate_session WHERE id = %s", sid)[0]
    assert (generation, ended_at) == (2, None)
    ((access, new_refresh),) = pairs
    assert protected(cluster.b, access).status_code == 200
    assert post(f"{cluster.a.url}/api/auth/token/refresh/", json={"refresh": new_refresh}).status_code == 200


def test_fifty_concurrent_logins_of_one_user_give_fifty_sessions(cluster):
    username = f"mp-{uuid.uuid4().hex[:8]}"
    register(cluster.a, username)
    servers = [cluster.a, cluster.b]
    bodies = concurrently(50, lambda i: login(servers[i % 2], username, device=f"device-{i}"))
    assert len({body["session_id"] for body in bodies}) == 50
    assert len({body["refresh"] for body in bodies}) == 50
    (count,) = cluster.sql(
        "SELECT count(*) FROM authgate_session s JOIN auth_user u ON u.id = s.user_id "
        "WHERE u.username = %s AND s.ended_at IS NULL",
        username,
    )[0]
    assert count == 50
    for body in bodies[:4]:
        assert protected(cluster.b, body["access"]).status_code == 200


def test_unreachable_database_answers_json_503(cluster, tmp_path):
    # Same signing key, so the token verifies and the request has to ask the database.
    username = f"mp-{uuid.uuid4().hex[:8]}"
    register(cluster.a, username)
    tokens = login(cluster.a, username)
    closed = f"postgres://postgres@127.0.0.1:{free_port()}/authgate"
    env = server_environment(closed, None, AUTHGATE_VAR_DIR=str(tmp_path))
    server = Gunicorn(env, workers=1).start()
    try:
        for response in [
            get(f"{server.url}/api/protected/", headers=bearer(tokens["access"])),
            post(f"{server.url}/api/auth/login/", json={"username": username, "password": PASSWORD}),
            post(f"{server.url}/api/auth/token/refresh/", json={"refresh": tokens["refresh"]}),
        ]:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["code"] == "database_unavailable"
        health = get(f"{server.url}/api/health/")
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "database": "down", "redis": "disabled"}
    finally:
        server.stop()
