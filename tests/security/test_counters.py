"""
The atomic attempt counters (`authgate.counters`): limits, fixed windows, reset and
release, and exactness when many threads (each with its own database connection) hit one
key at once — on SQLite and on PostgreSQL, whichever the pass runs on.
"""

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from authgate import counters
from authgate.models import AttemptCounter

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["upsert", "portable"])
def statement(request, monkeypatch):
    """Both ways of counting: the one-statement upsert (SQLite, PostgreSQL) and the
    conditional UPDATEs used on other databases, run here against the same database."""
    if request.param == "portable":
        monkeypatch.setattr(counters, "_UPSERT_VENDORS", set())
    return request.param


def test_a_key_allows_limit_hits_then_refuses_with_retry_after(statement):
    results = [counters.hit("test:a", limit=3, window=60) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    allowed, retry_after = results[-1]  # unpacks as a pair
    assert not allowed and 1 <= retry_after <= 60
    assert counters.count("test:a") == 3  # refused hits take nothing


def test_keys_count_separately():
    for _ in range(2):
        counters.hit("test:a", limit=2, window=60)
    assert not counters.hit("test:a", limit=2, window=60).allowed
    assert counters.hit("test:b", limit=2, window=60).allowed


def test_a_passed_window_starts_again_at_one(statement):
    for _ in range(2):
        counters.hit("test:a", limit=2, window=60)
    AttemptCounter.objects.filter(key="test:a").update(window_ends=timezone.now() - timedelta(seconds=1))
    assert counters.hit("test:a", limit=2, window=60).allowed
    assert counters.count("test:a") == 1


def test_reset_forgets_and_release_gives_back_one_slot():
    first = counters.hit("test:a", limit=2, window=60)
    counters.hit("test:a", limit=2, window=60)
    counters.release("test:a", first)
    assert counters.count("test:a") == 1
    counters.release("test:a", dataclasses.replace(counters.hit("test:a", limit=2, window=60), allowed=False))
    assert counters.count("test:a") == 2  # a refused hit has nothing to give back
    counters.reset("test:a")
    assert counters.count("test:a") == 0
    assert counters.hit("test:a", limit=2, window=timedelta(minutes=1)).allowed


def test_release_after_the_window_was_replaced_changes_nothing(statement):
    old = counters.hit("test:a", limit=5, window=60)
    AttemptCounter.objects.filter(key="test:a").update(window_ends=timezone.now() - timedelta(seconds=1))
    counters.hit("test:a", limit=5, window=60)  # a new window, count 1
    counters.release("test:a", old)
    assert counters.count("test:a") == 1


def test_a_long_key_is_stored_hashed_under_its_scope():
    key = "reset-mail:" + "x" * 500
    assert counters.hit(key, limit=1, window=60).allowed
    assert not counters.hit(key, limit=1, window=60).allowed
    (stored,) = AttemptCounter.objects.values_list("key", flat=True)
    assert stored.startswith("reset-mail:#") and len(stored) <= 191


def test_lockouts_and_purge():
    for _ in range(2):
        counters.hit("test:locked", limit=2, window=60, label="alice", ip="203.0.113.9")
    counters.hit("test:open", limit=2, window=60)
    assert [c.key for c in counters.lockouts()] == ["test:locked"]
    locked = counters.lockouts().get()
    assert (locked.label, locked.ip, locked.scope, locked.is_locked) == ("alice", "203.0.113.9", "test", True)
    AttemptCounter.objects.filter(key="test:open").update(window_ends=timezone.now())
    assert counters.purge() == 1


def test_an_address_that_is_not_an_ip_is_not_stored():
    assert counters.hit("test:a", limit=2, window=60, ip="not-an-ip").allowed
    assert AttemptCounter.objects.get().ip is None


def test_parse_rate():
    assert counters.parse_rate("5/15m") == (5, 900)
    assert counters.parse_rate("50/h") == (50, 3600)
    assert counters.parse_rate(None) == (None, None)
    with pytest.raises(ValueError):
        counters.parse_rate("five per minute")


def race(threads, key, limit):
    """`threads` threads, each on its own database connection, hit `key` at once."""
    barrier = threading.Barrier(threads)

    def one(_):
        try:
            barrier.wait()
            return counters.hit(key, limit=limit, window=60).allowed
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(threads)))


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_take_exactly_the_limit(statement):
    """Forty threads released together: five get a slot."""
    assert race(40, "test:race", limit=5).count(True) == 5
    assert counters.count("test:race") == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_hits_of_a_new_key_do_not_fail(statement):
    """The insert race of a key's first hits: one row, no error, exact count."""
    assert race(20, "test:new", limit=50).count(True) == 20
    assert counters.count("test:new") == 20
