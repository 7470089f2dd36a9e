"""
The per-process caches of the hot path, in one process:

- the verified-token cache: a token presented again is not re-verified, but its expiry is
  still checked on every use, and new keys or settings start an empty cache;
- the session cache: LRU bound, TTL, and the epoch rule (a database read that overlapped an
  invalidation is not stored);
- the SQLite same-host bus: a change committed by one process empties the others' caches;
- `PreparedGet`, which uses Django internals: equal to the ORM's `.get()`, and the ORM
  itself when those internals do not fit.
"""

import dataclasses
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authgate import prepared, revocation, sessions
from authgate.models import Session
from authgate.revocation import CachingRevocationStore, FileBus, SessionCache
from authgate.tokens import ACCESS, TokenError, get_codec

from ..conftest import bearer

pytestmark = pytest.mark.django_db


# -- verified tokens -------------------------------------------------------------------------
def test_a_verified_token_is_remembered_and_its_expiry_still_checked(user):
    access = sessions.open_session(user)[1].access
    codec = get_codec()
    claims = codec.decode(access, ACCESS)
    assert codec.verified.get(access) is claims
    assert codec.decode(access, ACCESS) is claims  # no second verification

    # The same token, remembered with an expiry now past the leeway: refused as expired.
    leeway = codec.leeway
    codec.verified.put(access, dataclasses.replace(claims, expires_at=int(time.time() - leeway - 1)))
    with pytest.raises(TokenError) as error:
        codec.decode(access, ACCESS)
    assert error.value.reason == "expired"
    # ...and of the wrong type for a refresh.
    codec.verified.put(access, claims)
    with pytest.raises(TokenError) as error:
        codec.decode(access, "refresh")
    assert error.value.reason == "wrong_type"


def test_new_settings_start_an_empty_token_cache(user, settings):
    access = sessions.open_session(user)[1].access
    get_codec().decode(access, ACCESS)
    assert get_codec().verified.get(access) is not None
    settings.AUTHGATE = {**settings.AUTHGATE, "SIGNING_KEY": "another-key-" + "z" * 40}
    assert get_codec().verified.get(access) is None
    with pytest.raises(TokenError):  # and the old key's token no longer verifies
        get_codec().decode(access, ACCESS)


def test_the_token_cache_is_bounded(user, settings):
    settings.AUTHGATE = {**settings.AUTHGATE, "TOKEN_CACHE_SIZE": 3}
    session = sessions.open_session(user)[0]
    codec = get_codec()
    tokens = [codec.access_for(session, issued_at=int(time.time()) - i) for i in range(5)]
    for token in tokens:
        codec.decode(token, ACCESS)
    assert [codec.verified.get(token) is not None for token in tokens] == [False, False, True, True, True]


# -- the session cache ---------------------------------------------------------------------------
def test_session_cache_bound_ttl_and_epoch():
    cache = SessionCache(size=2, ttl=30)
    for sid in "abc":
        cache.put(cache.epoch, sid, "1", f"user-{sid}")
    assert [cache.get(sid, "1") for sid in "abc"] == [None, "user-b", "user-c"]
    assert cache.get("b", "2") is None  # another user's claim never matches

    epoch = cache.epoch  # a read starts...
    cache.apply(["s:c"])  # ...an invalidation arrives meanwhile...
    cache.put(epoch, "c", "1", "stale")  # ...so what it read is not stored
    assert cache.get("c", "1") is None

    cache.apply(["u:1"])
    assert len(cache) == 0
    cache.put(cache.epoch, "d", "1", "user-d")
    cache.ttl = 0
    time.sleep(0.01)
    assert cache.get("d", "1") is None


# -- the SQLite same-host bus ---------------------------------------------------------------------
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite bus")
def test_a_change_in_one_process_empties_the_others_cache(
    api_client, user, tmp_path, django_capture_on_commit_callbacks
):
    # Two "processes": two stores on the same file, as two workers beside one database.
    path = str(tmp_path / "db.sqlite3-revocations")
    here, there = CachingRevocationStore(FileBus(path)), CachingRevocationStore(FileBus(path))
    session = sessions.open_session(user)[0]
    for store in (here, there):
        store.remember(store.snapshot(), session.id.hex, str(user.pk), user)
        assert store.live_user(session.id.hex, str(user.pk)) is not None

    with django_capture_on_commit_callbacks(execute=True):
        here.changed([f"s:{session.id.hex}"])
    assert there.live_user(session.id.hex, str(user.pk)) is None
    assert here.live_user(session.id.hex, str(user.pk)) is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite bus")
def test_sqlite_logout_and_deactivation_are_refused_at_once_and_hits_cost_no_query(api_client, user, tokens_for):
    assert isinstance(revocation.get_store().bus, FileBus)
    access = tokens_for(user)["access"]
    assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    assert len(queries) == 0
    user.is_active = False
    user.save()
    response = api_client.get("/api/protected/", **bearer(access))
    assert (response.status_code, response.json()["reason"]) == (401, "user_inactive")


# -- PreparedGet -------------------------------------------------------------------------------------
def _same_row(left, right):
    fields = [f.attname for f in type(left)._meta.concrete_fields]
    return all(getattr(left, name) == getattr(right, name) for name in fields)


def test_prepared_get_equals_the_orm_get_for_the_default_user_model(user):
    session = sessions.open_session(user)[0]
    lookup = prepared.PreparedGet(Session, select_related=["user"])
    mine, orm = lookup.get(session.pk), Session.objects.select_related("user").get(pk=session.pk)
    assert _same_row(mine, orm) and _same_row(mine.user, orm.user)
    assert type(mine.user) is get_user_model()
    assert mine._state.db == orm._state.db and not mine._state.adding
    assert lookup.get(session.pk.hex) is not None  # any pk spelling Django accepts
    with CaptureQueriesContext(connection) as queries:
        mine.user  # noqa: B018 — loaded with it: no query
    assert len(queries) == 0
    import uuid

    assert lookup.get(uuid.uuid4()) is None


def test_prepared_get_falls_back_to_the_orm_when_django_internals_change(user, monkeypatch):
    session = sessions.open_session(user)[0]

    def moved(*args, **kwargs):
        raise AttributeError("this Django has no such internal")

    monkeypatch.setattr(prepared, "get_related_populators", moved)
    lookup = prepared.PreparedGet(Session, select_related=["user"])
    found = lookup.get(session.pk)
    assert lookup._compiled == {connection.alias: None}
    assert _same_row(found, Session.objects.get(pk=session.pk)) and found.user == user
    monkeypatch.setattr(prepared, "get_related_populators", None)
    assert prepared.PreparedGet(Session, select_related=["user"]).get(session.pk) == session
