"""
The PostgreSQL LISTEN bus, in one process, on the real server:

- a heartbeat echo counts only if it comes from the listening backend itself (behind a
  transaction-pooling proxy the echo would come from another backend, and LISTEN would be
  lost: the cache must then never be trusted);
- a server-side kill (`pg_terminate_backend`) is a failure at once, whatever libpq's
  status still says.
"""

import select
import time

import psycopg
import pytest
from django.db import connection

from authgate.revocation import CHANNEL, BusError, PostgresBus, SessionCache

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def bus():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    bus = PostgresBus("default")
    bus.test_cache = SessionCache(10, 30)  # what the store would wire to the bus's callbacks
    bus.listen(bus.test_cache.apply, bus.test_cache.clear)
    with bus._lock:
        bus._connect()  # no thread: this test reads the connection itself
    yield bus
    bus._safe_disconnect()
    bus.close()


def read_until(bus, done, timeout=10):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "nothing arrived"
        if select.select([bus._fileno()], [], [], 0.05)[0]:
            with bus._lock:
                bus._read()
                bus._renew_trust()  # as the bus does after each batch it reads


def test_only_an_echo_from_the_listening_backend_earns_trust(bus):
    bus._sent[1] = time.monotonic()
    with psycopg.connect(**bus._params(), autocommit=True) as other:  # as a pooled connection would
        other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"hb:{bus._nonce}:1"))
        other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "s:marker"))
    read_until(bus, lambda: bus.test_cache.epoch > 0)  # both arrived, in order
    assert bus._trusted_until == 0.0

    with bus._lock:
        bus._heartbeat()  # sent on the listening connection itself
    read_until(bus, lambda: bus._trusted_until > 0)
    assert bus.trusted()


def test_a_terminated_listen_connection_fails_at_once(bus):
    with bus._lock:
        bus._heartbeat()
    read_until(bus, lambda: bus._trusted_until > 0)
    pid = bus._pgconn.backend_pid
    with psycopg.connect(**bus._params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # The request path reads the socket before trusting: the FATAL/EOF is a failure there,
    # not merely an echo that stops coming (which would end trust only after TRUST seconds).
    deadline = time.monotonic() + 10
    while bus.trusted():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert isinstance(bus._broken, (BusError, psycopg.OperationalError)), bus._broken
