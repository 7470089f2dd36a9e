"""
The Redis bus of the session cache, in one process, against real `redis-server` processes
that these tests start on spare ports (so that they can kill them):

- with the bus trusted, a repeated Bearer request costs no database query (counted);
- deactivation, deletion and logout are refused at once, from the database when needed;
- Redis dying: authentication stays correct from the database, a warning is logged,
  /api/health/ says "redis": "down"; when Redis is back the cache is trusted again, empty;
- forged tokens (a session that never existed, another user's session, a revoked session
  spelled with dashes) are refused as on the database path.
"""

import logging
import time
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from authgate.revocation import CachingRevocationStore, RedisBus, get_store

from ..conftest import bearer, login
from ..support.topology import RedisServer, require

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def own_redis():
    require("redis-server")
    server = RedisServer().start()
    yield server
    server.kill()


def redis_cache(url):
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }


@contextmanager
def redis_mode(url):
    """The production configuration: REDIS_URL serves both the session cache's bus and the cache."""
    with override_settings(AUTHGATE={**settings.AUTHGATE, "REDIS_URL": url}, CACHES=redis_cache(url)):
        store = get_store()
        assert isinstance(store, CachingRevocationStore) and isinstance(store.bus, RedisBus)
        store.bus.RETRY = 0.05
        yield store


def until_trusted(store, timeout=10):
    deadline = time.monotonic() + timeout
    while not store.bus.trusted():
        assert time.monotonic() < deadline, "the bus never became trusted"
        time.sleep(0.01)


def protected(api_client, access):
    return api_client.get("/api/protected/", **bearer(access))


def test_a_cached_session_costs_no_query(api_client, user, own_redis):
    with redis_mode(own_redis.url) as store:
        access = login(api_client).json()["access"]
        until_trusted(store)
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, access).status_code == 200
        assert len(queries) == 1  # the session row joined with its user, then remembered
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, access).status_code == 200
        assert len(queries) == 0, queries.captured_queries

        assert api_client.post("/api/auth/logout/", **bearer(access)).status_code == 200
        response = protected(api_client, access)
        assert (response.status_code, response.json()["reason"]) == (401, "revoked")


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_user_changes_are_refused_at_once(api_client, user, own_redis, change):
    with redis_mode(own_redis.url) as store:
        access = login(api_client).json()["access"]
        until_trusted(store)
        assert protected(api_client, access).status_code == 200
        assert len(store.cache) == 1
        if change == "deactivate":
            user.is_active = False
            user.save()
            expected = "user_inactive"
        else:
            user.delete()
            expected = "revoked"
        response = protected(api_client, access)
        assert (response.status_code, response.json()["reason"]) == (401, expected)


def test_redis_down_answers_from_the_database_then_trusts_again(api_client, user, own_redis, caplog):
    caplog.set_level(logging.WARNING, logger="authgate")
    with redis_mode(own_redis.url) as store:
        kept = login(api_client, device="kept").json()
        doomed = login(api_client, device="doomed").json()
        until_trusted(store)
        for tokens in (kept, doomed):
            assert protected(api_client, tokens["access"]).status_code == 200
        assert len(store.cache) == 2

        own_redis.kill()
        assert api_client.post("/api/auth/logout/", **bearer(doomed["access"])).status_code == 200
        response = protected(api_client, doomed["access"])
        assert (response.status_code, response.json()["reason"]) == (401, "revoked")
        assert len(store.cache) == 0  # the broken subscription emptied it
        assert not store.bus.trusted()
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, kept["access"]).status_code == 200
        assert len(queries) == 1  # from the database
        assert any("unavailable" in record.getMessage() for record in caplog.records)
        assert api_client.get("/api/health/").json() == {"status": "degraded", "database": "ok", "redis": "down"}

        own_redis.start()
        until_trusted(store)
        assert protected(api_client, kept["access"]).status_code == 200
        assert protected(api_client, doomed["access"]).status_code == 401
        assert api_client.get("/api/health/").json() == {"status": "ok", "database": "ok", "redis": "ok"}


def forge(access, **changes):
    """A token signed with the service's own key, with changed claims (only a key holder can)."""
    import jwt

    from authgate.tokens import get_codec

    payload = jwt.decode(access, options={"verify_signature": False})
    payload.update(changes)
    return get_codec().encode(payload)


@pytest.mark.parametrize("kind", ["never-existed", "other-users-session", "dashed-spelling-of-a-revoked-session"])
def test_the_cache_refuses_what_the_database_refuses(api_client, make_user, own_redis, kind):
    alice, _bob = make_user("alice"), make_user("bob")
    with redis_mode(own_redis.url) as store:
        mine = login(api_client, "alice").json()
        theirs = login(api_client, "bob").json()
        until_trusted(store)
        for tokens in (mine, theirs):
            assert protected(api_client, tokens["access"]).status_code == 200  # both cached
        if kind == "never-existed":
            token = forge(mine["access"], sid=uuid.uuid4().hex)
        elif kind == "other-users-session":
            token = forge(theirs["access"], sub=str(alice.pk))
        else:
            assert api_client.post("/api/auth/logout/", **bearer(mine["access"])).status_code == 200
            token = forge(mine["access"], sid=str(uuid.UUID(mine["session_id"])))  # with dashes
        response = protected(api_client, token)
        assert response.status_code == 401
        assert response.json()["reason"] == "revoked"
        assert protected(api_client, theirs["access"]).status_code == 200
