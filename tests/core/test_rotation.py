"""
Refresh rotation with reuse detection: a refresh spends its token; presenting
the just-spent token again inside REFRESH_RETRY_WINDOW returns the byte-identical pair;
any other reuse ends the whole session (and only that session); concurrent refreshes of
one token never fork the chain.
"""

import json
import threading
import time

import jwt
import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from authgate.models import Session

from ..conftest import bearer, login

pytestmark = pytest.mark.portable

PROTECTED = "/api/protected/"
REFRESH = "/api/auth/token/refresh/"
VERIFY = "/api/auth/token/verify/"


def refresh(client, token):
    return client.post(REFRESH, {"refresh": token}, format="json")


def assert_revoked(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["reason"] == "revoked"


def test_refresh_returns_a_new_pair_and_spends_the_old_refresh_token(api_client, user, tokens_for):
    first = tokens_for(user)
    response = refresh(api_client, first["refresh"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) >= {"access", "refresh"}
    assert second["access"] != first["access"] and second["refresh"] != first["refresh"]
    assert api_client.get(PROTECTED, **bearer(second["access"])).status_code == 200
    # Same session, one generation on.
    old, new = (jwt.decode(t, options={"verify_signature": False}) for t in (first["refresh"], second["refresh"]))
    assert new["sid"] == old["sid"] and new["gen"] == old["gen"] + 1
    assert new["type"] == "refresh"
    # Verify: the spent refresh token answers 401 (even inside the retry window); the new one 200.
    assert_revoked(api_client.post(VERIFY, {"token": first["refresh"]}, format="json"))
    assert api_client.post(VERIFY, {"token": second["refresh"]}, format="json").status_code == 200


def test_retry_window_returns_the_byte_identical_pair(api_client, user, tokens_for):
    first = tokens_for(user)
    original = refresh(api_client, first["refresh"])
    retried = refresh(api_client, first["refresh"])
    assert original.status_code == retried.status_code == 200
    assert retried.content == original.content
    # The session did not fork: the pair continues the one chain.
    pair = original.json()
    assert api_client.get(PROTECTED, **bearer(pair["access"])).status_code == 200
    assert refresh(api_client, pair["refresh"]).status_code == 200
    assert Session.objects.get().generation == 3


@override_settings(AUTHGATE={"REFRESH_RETRY_WINDOW": 0})
def test_reuse_outside_the_window_ends_the_session_but_not_the_other_one(api_client, user, tokens_for):
    laptop = tokens_for(user, device="laptop")
    phone = tokens_for(user, device="phone")
    newest = refresh(api_client, laptop["refresh"]).json()
    assert api_client.get(PROTECTED, **bearer(newest["access"])).status_code == 200

    reuse = refresh(api_client, laptop["refresh"])
    assert_revoked(reuse)
    assert reuse.json()["detail"] == "Token is blacklisted"
    # Every token of that login is dead: the newest access and refresh included.
    assert_revoked(api_client.get(PROTECTED, **bearer(newest["access"])))
    assert_revoked(api_client.get(PROTECTED, **bearer(laptop["access"])))
    assert_revoked(refresh(api_client, newest["refresh"]))
    ended = Session.objects.get(device="laptop")
    assert ended.ended_at is not None and ended.end_reason == "reuse_detected"
    # The other session of the same user lives on.
    assert api_client.get(PROTECTED, **bearer(phone["access"])).status_code == 200
    assert refresh(api_client, phone["refresh"]).status_code == 200


def test_reuse_after_the_default_window_has_passed(api_client, user, tokens_for):
    """The default 10 s window, without waiting: the rotation is moved into the past."""
    first = tokens_for(user)
    newest = refresh(api_client, first["refresh"]).json()
    # Move the rotation 11 s back. The stored issue time is only read for the window here:
    # `newest`'s tokens stay exactly as they were minted.
    Session.objects.update(issued_at=int(time.time()) - 11)
    assert_revoked(refresh(api_client, first["refresh"]))
    assert_revoked(api_client.get(PROTECTED, **bearer(newest["access"])))


def test_only_the_immediate_predecessor_is_covered_by_the_window(api_client, user, tokens_for):
    a = tokens_for(user)
    b = refresh(api_client, a["refresh"]).json()
    c = refresh(api_client, b["refresh"]).json()
    assert_revoked(refresh(api_client, a["refresh"]))  # A after A→B→C: reuse, even inside the window
    assert_revoked(api_client.get(PROTECTED, **bearer(c["access"])))
    assert_revoked(refresh(api_client, c["refresh"]))
    assert_revoked(refresh(api_client, b["refresh"]))  # the window does not revive an ended session


def test_refresh_token_never_outlives_the_session_cap(api_client, user):
    with override_settings(AUTHGATE={"SESSION_MAX_AGE": 120, "REFRESH_TOKEN_LIFETIME": 3600}):
        body = login(api_client).json()
        rotated = refresh(api_client, body["refresh"]).json()
    for token in (body["refresh"], rotated["refresh"], rotated["access"]):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] <= int(time.time()) + 120


def test_refresh_slides_by_the_refresh_lifetime(api_client, user):
    with override_settings(AUTHGATE={"REFRESH_TOKEN_LIFETIME": 600}):
        body = login(api_client).json()
        rotated = refresh(api_client, body["refresh"]).json()
    claims = jwt.decode(rotated["refresh"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_of_one_token_end_with_one_chain(make_user):
    make_user("alice")
    first = login(APIClient()).json()
    start = threading.Barrier(20)
    results = [None] * 20

    def worker(index):
        try:
            start.wait()
            response = refresh(APIClient(), first["refresh"])
            results[index] = (response.status_code, response.content)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = [status for status, _ in results]
    assert statuses == [200] * 20, results
    bodies = {content for _, content in results}
    assert len(bodies) == 1  # every 200 carries the same pair
    # One rotation happened, not twenty: the chain did not fork.
    session = Session.objects.get()
    assert session.generation == 2 and session.ended_at is None
    pair = json.loads(bodies.pop())
    client = APIClient()
    assert client.get(PROTECTED, **bearer(pair["access"])).status_code == 200
    assert refresh(client, pair["refresh"]).status_code == 200
