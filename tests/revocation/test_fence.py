"""
The fence of the push buses (Redis pub/sub and PostgreSQL LISTEN), in one process, against
the real servers: when `fence()` returns, no other process may still believe a cache entry
that the fence's changes made stale. A process is "stalled" here by holding its bus's lock:
its listener can then neither read its subscription nor renew its trust — as a process
that is SIGSTOPped, swapped out or starved of CPU.

- a process that has just subscribed never heard a stalled process (it sends no heartbeats):
  its fence still lasts until that process's trust has run out;
- a process whose own subscription is down cannot fence: it waits the trust period out;
- a stalled process that was heard is waited for, then given up on once its trust is gone;
- a process that reads answers the fence.
"""

import threading
import time

import pytest
from django.db import connection, connections

from authgate.revocation import PostgresBus, RedisBus, SessionCache

from ..support.processes import free_port
from ..support.topology import RedisServer, require

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(params=["redis", "postgres"])
def make_bus(request):
    """Buses of one kind, each as a separate process would have it (its own nonce and
    subscription); `make_bus(reachable=False)` one whose server cannot be reached."""
    made = []
    if request.param == "redis":
        require("redis-server")
        server = RedisServer().start()

        def make(reachable=True):
            url = server.url if reachable else f"redis://127.0.0.1:{free_port()}/0"
            made.append(RedisBus(url, prefix=f"fence-test-{id(made)}"))
            return made[-1]

    else:
        request.getfixturevalue("transactional_db")  # a fence's NOTIFY leaves at commit
        if connection.vendor != "postgresql":
            pytest.skip("PostgreSQL only")
        server = None

        def make(reachable=True):
            made.append(PostgresBus("default", conninfo=None if reachable else f"host=127.0.0.1 port={free_port()}"))
            return made[-1]

    def listening(reachable=True):
        bus = make(reachable)
        cache = SessionCache(10, 30)
        bus.listen(cache.apply, cache.clear)
        return bus

    yield listening
    for bus in made:
        bus.close()
    if server is not None:
        server.kill()


def until_trusted(bus, timeout=10):
    deadline = time.monotonic() + timeout
    while not bus.trusted():
        assert time.monotonic() < deadline, "the bus never became trusted"
        time.sleep(0.01)


class Stalled:
    """Hold a bus's lock: its listener reads nothing and renews no trust meanwhile."""

    def __init__(self, bus):
        self.bus = bus

    def __enter__(self):
        self.bus._lock.acquire()
        return self

    def __exit__(self, *exc):
        self.bus._lock.release()

    def still_trusts(self):
        return time.monotonic() < self.bus._trusted_until


def test_a_process_that_has_just_subscribed_outlasts_a_stalled_process_it_never_heard(make_bus):
    b = make_bus()
    until_trusted(b)
    with Stalled(b) as stalled:
        a = make_bus()  # started after B stopped reading: it never hears B's heartbeats
        a.fence()
        assert not stalled.still_trusts(), "the fence returned while the stalled process still trusted its cache"


def test_a_process_whose_subscription_is_down_waits_until_no_process_trusts_its_cache(make_bus):
    b = make_bus()
    until_trusted(b)
    a = make_bus(reachable=False)
    assert not a.trusted()  # its listener keeps trying...
    time.sleep(2 * a.TRUST + 0.1)  # ...long past any start-up grace
    with Stalled(b) as stalled:
        assert a.fence() is False
        assert not stalled.still_trusts()


def two_that_hear_each_other(make_bus):
    a, b = make_bus(), make_bus()
    until_trusted(a)
    until_trusted(b)
    deadline = time.monotonic() + 10
    while b._nonce not in a._peers:  # A hears B's heartbeats
        assert time.monotonic() < deadline, "A never heard B"
        time.sleep(0.01)
    return a, b


def test_a_stalled_process_that_was_heard_is_given_up_on_once_its_trust_has_ended(make_bus):
    a, b = two_that_hear_each_other(make_bus)
    with Stalled(b) as stalled:
        assert a.fence() is False
        assert not stalled.still_trusts()


def test_a_process_that_reads_answers_the_fence(make_bus):
    a, _b = two_that_hear_each_other(make_bus)
    answers = []

    def fence():
        try:
            answers.append(a.fence())
        finally:
            connections.close_all()  # the fence's NOTIFY used this thread's own connection

    fencing = threading.Thread(target=fence)
    fencing.start()
    fencing.join(30)
    assert answers == [True]
