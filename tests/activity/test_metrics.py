"""
GET /metrics (Prometheus text format): the counters move with the events they count, the
active-session gauge is counted at scrape time, the authentication histogram observes the
per-request check, and the endpoint answers loopback only unless METRICS_ALLOWED_IPS says
otherwise — also when a proxy on the same host forwards an outside client.

These run in one process (prometheus_client's in-memory values); the several-worker case
is tests/activity/test_metrics_multiprocess.py.
"""

import json
import logging
import os

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from authgate import metrics
from server.logs import JSONFormatter

from ..conftest import bearer, login
from ..support.processes import wait_until

METRICS = "/metrics"


def scrape(client, **extra):
    response = client.get(METRICS, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def test_login_outcomes_are_counted(api_client, user, settings):
    settings.AUTHGATE = {"LOGIN_THROTTLE": {"USER_IP": "2/15m", "IP": "50/15m"}}
    before = scrape(api_client)
    assert login(api_client).status_code == 200
    for _ in range(2):
        assert login(api_client, password="wrong-wrong-9").status_code == 401
    for _ in range(3):
        assert login(api_client).status_code == 429
    after = scrape(api_client)
    name = "authgate_login_attempts_total"
    assert delta(before, after, name, outcome="success") == 1
    assert delta(before, after, name, outcome="failure") == 2
    assert delta(before, after, name, outcome="throttled") == 3  # every one, though one row is written


@pytest.mark.django_db(transaction=True)  # ended sessions are counted once their end commits
def test_refresh_outcomes_and_ended_sessions_are_counted(api_client, user, tokens_for, settings):
    settings.AUTHGATE = {"REFRESH_RETRY_WINDOW": 10}
    first = tokens_for(user)
    before = scrape(api_client)

    def refresh(raw):
        return api_client.post("/api/auth/token/refresh/", {"refresh": raw}, format="json")

    second = refresh(first["refresh"]).json()  # rotated
    assert refresh(first["refresh"]).status_code == 200  # the same token again, in the window: retried
    assert refresh("not-a-token").status_code == 401  # invalid
    third = refresh(second["refresh"]).json()  # rotated
    assert refresh(first["refresh"]).status_code == 401  # two generations back: reuse
    other = tokens_for(user)
    api_client.post("/api/auth/logout/", **bearer(other["access"]))
    after = scrape(api_client)
    name = "authgate_refresh_total"
    assert delta(before, after, name, outcome="rotated") == 2
    assert delta(before, after, name, outcome="retried") == 1
    assert delta(before, after, name, outcome="invalid") == 1
    assert delta(before, after, name, outcome="reuse_detected") == 1
    ended = "authgate_sessions_ended_total"
    assert delta(before, after, ended, reason="reuse_detected") == 1
    assert delta(before, after, ended, reason="logout") == 1
    assert third["access"]


def test_active_sessions_is_counted_when_scraped(api_client, make_user, tokens_for):
    ada, bob = make_user("ada"), make_user("bob")
    tokens_for(ada)
    pair = tokens_for(bob)
    tokens_for(bob)
    assert value(scrape(api_client), "authgate_active_sessions") == 3
    api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert value(scrape(api_client), "authgate_active_sessions") == 2


def test_authentication_time_is_observed_per_scheme(api_client, user, tokens_for):
    access = tokens_for(user)["access"]
    key = api_client.post("/api/auth/tokens/", {"name": "m"}, format="json", **bearer(access)).json()["token"]
    before = scrape(api_client)
    for _ in range(3):
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    assert api_client.get("/api/protected/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert api_client.get("/api/protected/", **bearer("garbage")).status_code == 401
    after = scrape(api_client)
    name = "authgate_authentication_seconds_count"
    assert delta(before, after, name, scheme="bearer") == 4  # refused checks are timed too
    assert delta(before, after, name, scheme="token") == 1
    assert delta(before, after, "authgate_authentication_seconds_sum", scheme="bearer") > 0


def test_batched_observations_land_in_their_buckets_with_their_sum(api_client, db):
    before = scrape(api_client)
    observed = [0.00005, 0.0001, 0.0003, 0.0003, 0.02, 3.0]  # 0.0001 is its bucket's own bound
    for seconds in observed:
        metrics.observe_authentication("token", seconds)
    after = scrape(api_client)  # the scrape takes this process's queue first
    name = "authgate_authentication_seconds_bucket"
    cumulative = {"0.0001": 2, "0.00025": 2, "0.0005": 4, "0.01": 4, "0.025": 5, "1.0": 5, "+Inf": 6}
    for bound, count in cumulative.items():
        assert delta(before, after, name, scheme="token", le=bound) == count, bound
    assert delta(before, after, "authgate_authentication_seconds_count", scheme="token") == len(observed)
    assert delta(before, after, "authgate_authentication_seconds_sum", scheme="token") == pytest.approx(sum(observed))


def test_the_flusher_thread_moves_observations_without_a_scrape(db):
    def count():
        return REGISTRY.get_sample_value("authgate_authentication_seconds_count", {"scheme": "token"}) or 0.0

    metrics.flush_observations()
    before = count()
    for _ in range(5):
        metrics.observe_authentication("token", 0.001)
    # Nothing here takes the queue: the process's own thread does, FLUSH_SECONDS later.
    wait_until(lambda: count() == before + 5, 10 + metrics.FLUSH_SECONDS, "the flush of 5 observations")


def test_a_forked_child_does_not_count_its_parents_queued_observations(db):
    metrics.flush_observations()
    metrics.observe_authentication("token", 0.001)  # queued: the flusher waits FLUSH_SECONDS
    pid = os.fork()
    if pid == 0:  # the child: its queue is empty, the parent's observation is the parent's
        os._exit(0 if all(not queue for queue in metrics._pending.values()) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    metrics.flush_observations()


# -- who may scrape -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "meta",
    [
        {"REMOTE_ADDR": "203.0.113.9"},
        # A reverse proxy on the same host: the peer is loopback, the client is not.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
    ],
)
def test_metrics_refused_to_other_addresses(api_client, db, meta):
    response = api_client.get(METRICS, **meta)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_metrics_served_to_allowed_networks(api_client, db, settings):
    assert api_client.get(METRICS, REMOTE_ADDR="::1").status_code == 200
    settings.AUTHGATE = {"METRICS_ALLOWED_IPS": ["10.0.0.0/8"]}
    assert api_client.get(METRICS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert api_client.get(METRICS, REMOTE_ADDR="127.0.0.1").status_code == 403
    assert api_client.get(METRICS, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 200


# -- structured logs ------------------------------------------------------------------------
def test_json_formatter_writes_one_object_per_line():
    record = logging.LogRecord(
        "authgate.sessions",
        logging.WARNING,
        __file__,
        1,
        "Refresh token reuse detected; ending session %s.",
        ("abc",),
        None,
    )
    record.session = "abc"
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "authgate.sessions"
    assert entry["message"] == "Refresh token reuse detected; ending session abc."
    assert entry["session"] == "abc" and entry["time"].endswith("+00:00")


def test_json_formatter_keeps_a_traceback_on_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JSONFormatter().format(record)
    assert "\n" not in line and "ValueError" in json.loads(line)["exc_info"]


def test_json_formatter_names_gunicorn_access_fields():
    atoms = {
        "h": "127.0.0.1",
        "m": "GET",
        "U": "/api/protected/",
        "q": "",
        "s": "200",
        "B": "64",
        "a": "wrk",
        "f": "-",
        "D": "1234",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(m)s %(U)s", (atoms,), None)
    entry = json.loads(JSONFormatter().format(record))
    assert entry["method"] == "GET" and entry["status"] == "200" and entry["duration_ms"] == 1.234
    assert entry["message"] == "127.0.0.1 GET /api/protected/"


def test_every_reason_a_session_ends_for_has_its_series_from_the_start(api_client, db):
    from authgate import metrics, recovery, sessions
    from authgate.mfa import staff

    used = {
        staff.FACTORS_REMOVED,
        sessions.LOGOUT,
        sessions.LOGOUT_ALL,
        sessions.PASSWORD_CHANGED,
        sessions.USER_INACTIVE,
        sessions.ADMIN,
        sessions.INVALIDATE_ALL,
        sessions.REUSE_DETECTED,
        recovery.PASSWORD_RESET,
        recovery.ACCOUNT_DELETED,
    }
    assert used <= set(metrics.SESSION_END_REASONS)
    samples = scrape(api_client)
    for reason in metrics.SESSION_END_REASONS:
        assert ("authgate_sessions_ended_total", (("reason", reason),)) in samples, reason


def test_session_cache_hits_and_misses_are_added_in_batches(api_client, user, tokens_for, monkeypatch):
    from authgate import revocation

    store = revocation.get_store()
    if not hasattr(store, "cache"):
        pytest.skip("no session cache in this configuration")
    monkeypatch.setattr(store, "STATS_EVERY", 4)
    store.misses = store.lookups = 0
    access = tokens_for(user)["access"]
    before = scrape(api_client)
    for _ in range(8):
        assert api_client.get("/api/protected/", **bearer(access)).status_code == 200
    after = scrape(api_client)
    name = "authgate_session_cache_lookups_total"
    hits, misses = delta(before, after, name, result="hit"), delta(before, after, name, result="miss")
    assert hits + misses == 8  # two batches of 4
    if isinstance(store.bus, revocation.FileBus):  # trusted at once (a network bus must hear its echo first)
        assert hits >= 6  # one token: only its first lookups miss
