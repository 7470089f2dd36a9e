"""
The async way in never touches the database on the event loop: a cache miss is read on a
worker thread (Django itself raises SynchronousOnlyOperation for a query made on a running
loop), and a refusal carries the same answer as the sync path.
"""

import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import RequestFactory

from authgate import access, revocation

pytestmark = pytest.mark.django_db


def test_a_cache_miss_is_read_from_the_database_off_the_event_loop(user, tokens_for):
    token = tokens_for(user)["access"]
    revocation.reset_store()  # a cold cache: the database must answer
    query_threads = []

    def record(execute, sql, params, many, context):
        query_threads.append(threading.get_ident())
        return execute(sql, params, many, context)

    async def authenticate():
        request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
        return threading.get_ident(), await access.aauthenticate_request(request)

    with connection.execute_wrapper(record):
        loop_thread, result = async_to_sync(authenticate)()
    assert result.user.pk == user.pk and result.source == access.HEADER
    assert query_threads, "the session was not read from the database"
    assert loop_thread not in query_threads


@pytest.mark.parametrize("token", ["not.a.token", "a b"])
def test_the_async_and_sync_paths_refuse_alike(token):
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    with pytest.raises(access.AuthenticationFailed) as sync_refusal:
        access.authenticate_request(request)
    with pytest.raises(access.AuthenticationFailed) as async_refusal:
        async_to_sync(access.aauthenticate_request)(request)
    assert sync_refusal.value.body() == async_refusal.value.body()
    assert sync_refusal.value.body()["reason"] == "malformed"
