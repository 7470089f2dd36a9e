"""
The Redis revocation cache, against real `redis-server` processes that
these tests start on spare ports, so that they can kill and restart them:

- with Redis, checking a Bearer token's revocation costs no database query (counted);
- Redis dying mid-run: authentication stays correct from the database, a warning is
  logged, /api/health/ says "redis": "down";
- Redis coming back empty, or restored from a snapshot: no revocation written meanwhile is
  forgotten, because the store refills from the database before it is believed again;
- a write lost by one process only (a partition) misleads the others for at most the
  lease (RENEW_AFTER), and a missed write cancels a sync in flight.
"""
import logging
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from authgate import revocation
from authgate.models import Session
from authgate.revocation import UNKNOWN, RedisRevocationStore, get_store

from .conftest import bearer, login
from .topology_support import RedisServer, free_port, require

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
    """The production configuration: REDIS_URL serves both the revocation store and the cache."""
    with override_settings(AUTHGATE={**settings.AUTHGATE, "REDIS_URL": url}, CACHES=redis_cache(url)):
        store = get_store()
        assert isinstance(store, RedisRevocationStore)
        # Renewing the lease is a (rare) database read; keep it out of the counted requests,
        # and don't leave a failed Redis alone for a second: retry at once.
        store.RENEW_AFTER = 3600
        store.RETRY_AFTER_ERROR = 0
        yield store


@contextmanager
def database_mode():
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "topology"}}
    with override_settings(AUTHGATE={**settings.AUTHGATE, "REDIS_URL": None}, CACHES=local):
        assert get_store().answers_without_database is False
        yield


def session_hex(body):
    return uuid.UUID(body["session_id"]).hex


def touched_tables(queries):
    sql = " ".join(query["sql"] for query in queries)
    return {table for table in ("authgate_session", "auth_user") if f'"{table}"' in sql}


def protected(api_client, access):
    return api_client.get("/api/protected/", **bearer(access))


# -- cost ------------------------------------------------------------------------------------
def test_query_count_of_an_authenticated_get_with_and_without_redis(api_client, user, own_redis):
    with database_mode():
        access = login(api_client).json()["access"]
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, access).status_code == 200
        # The session row, joined with its user: revocation and user in one query.
        assert len(queries) == 1, queries.captured_queries
        assert touched_tables(queries.captured_queries) == {"authgate_session", "auth_user"}

    with redis_mode(own_redis.url) as store:
        body = login(api_client).json()
        assert store.sync() is True  # a running service: the cache is synced
        for _ in range(2):  # the first request after login and the steady state alike
            with CaptureQueriesContext(connection) as queries:
                assert protected(api_client, body["access"]).status_code == 200
            # Only the user (DRF's request.user; it also catches deleted/deactivated users);
            # the revocation answer came from Redis.
            assert len(queries) == 1, queries.captured_queries
            assert touched_tables(queries.captured_queries) == {"auth_user"}

        assert api_client.post("/api/auth/logout/", **bearer(body["access"])).status_code == 200
        assert own_redis.client().get(f"authgate:revoked:{session_hex(body)}") == b"logout"
        with CaptureQueriesContext(connection) as queries:
            response = protected(api_client, body["access"])
        assert response.status_code == 401
        assert response.json()["reason"] == "revoked"
        assert len(queries) == 0  # a revoked token is refused by Redis alone


def test_deactivated_user_is_refused_on_the_redis_path(api_client, user, own_redis):
    with redis_mode(own_redis.url) as store:
        access = login(api_client).json()["access"]
        store.sync()
        assert protected(api_client, access).status_code == 200
        user.is_active = False
        user.save()
        response = protected(api_client, access)
        assert response.status_code == 401
        assert response.json()["reason"] == "user_inactive"


def test_a_deleted_users_token_is_refused_on_the_redis_path(api_client, user, own_redis):
    # Deleting the user cascades to the session rows without telling Redis; the user
    # lookup of the Redis path is what refuses the token.
    with redis_mode(own_redis.url) as store:
        access = login(api_client).json()["access"]
        store.sync()
        user.delete()
        response = protected(api_client, access)
        assert response.status_code == 401
        assert response.json()["reason"] == "revoked"


# -- Redis dies mid-run ----------------------------------------------------------------------
def test_redis_down_then_back_empty_forgets_no_revocation(api_client, user, own_redis, caplog):
    caplog.set_level(logging.INFO, logger="authgate")
    with redis_mode(own_redis.url) as store:
        kept = login(api_client, device="kept").json()
        doomed = login(api_client, device="doomed").json()
        # Another server process that was happily trusting Redis before the outage.
        other_process = RedisRevocationStore(own_redis.url)
        other_process.RETRY_AFTER_ERROR = 0
        assert protected(api_client, kept["access"]).status_code == 200
        assert other_process.check(session_hex(doomed)) is None

        own_redis.kill()

        # Logging out while Redis is down works (the database is the record)...
        assert api_client.post("/api/auth/logout/", **bearer(doomed["access"])).status_code == 200
        warnings = [r for r in caplog.records if r.name == "authgate.revocation" and r.levelno == logging.WARNING]
        assert warnings and "Redis unavailable" in warnings[0].getMessage()
        # ...and authentication stays correct from the database.
        response = protected(api_client, doomed["access"])
        assert (response.status_code, response.json()["reason"]) == (401, "revoked")
        assert protected(api_client, kept["access"]).status_code == 200
        health = api_client.get("/api/health/")
        assert health.status_code == 200
        assert health.json() == {"status": "degraded", "database": "ok", "redis": "down"}
        assert other_process.check(session_hex(doomed)) is UNKNOWN

        own_redis.start()  # same port, empty: the revocation above is not in it

        # The process that never saw the failed write must not say "not revoked": it finds
        # no marker, refills from the database, and only then answers.
        answers = [other_process.check(session_hex(doomed)) for _ in range(2)]
        assert None not in answers
        assert answers[-1] == "logout"
        response = protected(api_client, doomed["access"])
        assert (response.status_code, response.json()["reason"]) == (401, "revoked")
        assert protected(api_client, kept["access"]).status_code == 200
        # The process that missed the write told everyone (dirty counter) once Redis was back.
        assert own_redis.client().get("authgate:revocations-dirty") == b"1"
        assert api_client.get("/api/health/").json() == {"status": "ok", "database": "ok", "redis": "ok"}

        # Redis is believed again, and knows: the doomed token is refused without the database.
        store.sync()
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, doomed["access"]).status_code == 401
        assert len(queries) == 0


def test_redis_restored_from_a_snapshot_is_not_believed(api_client, user, own_redis, caplog):
    # A Redis restarted from an RDB/AOF file (or a promoted replica) holds the marker but
    # may miss the latest keys. The marker names the server's run_id, which every new
    # connection compares.
    caplog.set_level(logging.WARNING, logger="authgate.revocation")
    with redis_mode(own_redis.url) as store:
        doomed = login(api_client).json()
        assert store.sync() is True
        marker = own_redis.client().get("authgate:revocations-synced")
        own_redis.kill()
        assert api_client.post("/api/auth/logout/", **bearer(doomed["access"])).status_code == 200
        own_redis.start()
        own_redis.client().set("authgate:revocations-synced", marker)  # the "snapshot"

        fresh_process = RedisRevocationStore(own_redis.url)
        assert fresh_process.check(session_hex(doomed)) == "logout"
        assert any("Redis server changed" in r.getMessage() for r in caplog.records)
        assert own_redis.client().get("authgate:revocations-synced") != marker


# -- partial failures --------------------------------------------------------------------------
def test_a_write_lost_by_one_process_misleads_others_at_most_until_the_lease_renewal(
    api_client, user, own_redis, monkeypatch
):
    with redis_mode(own_redis.url):
        doomed = login(api_client).json()
        sid = session_hex(doomed)
        healthy = RedisRevocationStore(own_redis.url)
        healthy.RENEW_AFTER = 3600
        assert healthy.sync() is True
        # The process that answers the logout is cut off from Redis (a closed port).
        cut_off = RedisRevocationStore(f"redis://127.0.0.1:{free_port()}/0")
        monkeypatch.setattr(revocation, "_store", cut_off)
        assert api_client.post("/api/auth/logout/", **bearer(doomed["access"])).status_code == 200
        assert Session.objects.get(pk=uuid.UUID(sid)).ended_at is not None

        # The documented residual window: nobody could tell Redis, and the marker is young.
        assert healthy.check(sid) is None
        # Once the lease is due, the sync re-reads the last minute of revocations first.
        healthy.RENEW_AFTER = 0
        assert healthy.check(sid) == "logout"
        healthy.RENEW_AFTER = 3600
        assert healthy.check(sid) == "logout"


def test_a_missed_write_reported_during_a_sync_cancels_its_marker(user, own_redis, monkeypatch):
    store = RedisRevocationStore(own_redis.url)
    original_write = store._write

    def write_then_another_process_reports_a_missed_write(items, reason=None):
        original_write(items, reason)
        own_redis.client().incr(store.dirty_key)

    monkeypatch.setattr(store, "_write", write_then_another_process_reports_a_missed_write)
    assert store.sync() is False
    assert own_redis.client().get(store.synced_key) is None
    monkeypatch.undo()
    assert store.sync() is True
    assert own_redis.client().get(store.synced_key) is not None


def test_an_evicting_redis_is_reported(user, caplog):
    require("redis-server")
    caplog.set_level(logging.WARNING, logger="authgate.revocation")
    server = RedisServer(extra_args=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]).start()
    try:
        assert RedisRevocationStore(server.url).sync() is True
    finally:
        server.kill()
    assert any("may evict revocation keys" in r.getMessage() for r in caplog.records)


# -- the Redis path is as strict as the database path --------------------------------------
def forge(access, **changes):
    """A token signed with the service's own key, with changed claims (only a key holder can)."""
    from authgate.tokens import get_codec

    payload = jwt_claims(access)
    payload.update(changes)
    return get_codec().encode(payload)


def jwt_claims(token):
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("kind", ["never-existed", "other-users-session", "dashed-spelling-of-a-revoked-session"])
def test_redis_path_refuses_what_the_database_path_refuses(api_client, make_user, own_redis, kind):
    alice, _bob = make_user("alice"), make_user("bob")
    with redis_mode(own_redis.url) as store:
        mine = login(api_client, "alice").json()
        theirs = login(api_client, "bob").json()
        store.sync()
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


def test_a_session_redis_has_not_seen_live_is_read_from_the_database_once(api_client, user, own_redis):
    with redis_mode(own_redis.url) as store:
        access = login(api_client).json()["access"]
        own_redis.client().flushdb()  # e.g. a Redis restart: live keys gone too
        assert store.sync() is True
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, access).status_code == 200
        assert touched_tables(queries.captured_queries) == {"authgate_session", "auth_user"}
        with CaptureQueriesContext(connection) as queries:
            assert protected(api_client, access).status_code == 200
        assert touched_tables(queries.captured_queries) == {"auth_user"}
