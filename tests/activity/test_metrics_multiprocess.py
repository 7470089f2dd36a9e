"""
GET /metrics with several gunicorn workers, as `make run` serves it (`-c
server/gunicorn.conf.py`: prometheus_client's multiprocess mode): after N failed and M
successful logins, spread over both workers, a scrape shows exactly those increments —
summed over the workers, whichever one answers the scrape. The same for the authentication
histogram, which each worker batches: its count, buckets and sum after requests served by
both workers.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from authgate import metrics

from ..support.topology import (
    Gunicorn,
    create_database,
    drop_database,
    manage,
    postgres_url,
    server_environment,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres]

PASSWORD = "correct-horse-battery-9"
TIMEOUT = 60  # an Argon2 login on a busy machine: generous, and no finding when slow
FAILED, SUCCEEDED = 7, 9


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    dbname = create_database("authgate_metrics")
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    env = server_environment(
        postgres_url(dbname),
        AUTHGATE_VAR_DIR=str(tmp_path_factory.mktemp("var")),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),  # set here so the test can look inside
        AUTHGATE_LOGIN_THROTTLE_USER_IP="1000/15m",
        AUTHGATE_LOGIN_THROTTLE_IP="1000/15m",
    )
    gunicorn = None
    try:
        manage(env, "migrate", "--noinput")
        gunicorn = Gunicorn(env, workers=2, args=["-c", "server/gunicorn.conf.py"]).start()
        gunicorn.metrics_dir = Path(metrics_dir)
        yield gunicorn
    finally:
        if gunicorn:
            gunicorn.stop()
        drop_database(dbname)


def scrape(server):
    response = httpx.get(f"{server.url}/metrics", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_every_series_exists_at_zero_from_the_first_scrape(server):
    # The module's first test: this server has not logged anyone in nor ended anything yet.
    values = scrape(server)
    series = {
        ("authgate_login_attempts_total", "outcome"): ["success", "failure", "throttled"],
        ("authgate_refresh_total", "outcome"): ["rotated", "retried", "reuse_detected", "invalid"],
        ("authgate_sessions_ended_total", "reason"): list(metrics.SESSION_END_REASONS),
        ("authgate_authentication_seconds_count", "scheme"): ["bearer", "token"],
        ("authgate_mfa_events_total", "event"): list(metrics.MFA_EVENTS),
    }
    for (name, label), label_values in series.items():
        for label_value in label_values:
            assert values.get((name, ((label, label_value),))) == 0, (name, label_value)
    assert values[("authgate_active_sessions", ())] == 0
    assert "logout_all" in metrics.SESSION_END_REASONS  # what a dashboard alerts on is among them


def by_process(directory, kind, sample, label):
    """{pid: sum of `sample` values with `label`} read from each worker's own `kind` file."""
    counts = {}
    for path in directory.glob(f"{kind}_*.db"):
        pid = path.stem.split("_")[-1]
        for key, value, *_rest in MmapedDict.read_all_values_from_file(str(path)):
            if f'"{sample}"' in key and f'"{label}"' in key:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def logins_by_process(directory):
    """{pid: successful logins} read from each worker's own counter file."""
    return by_process(directory, "counter", "authgate_login_attempts_total", "success")


def test_login_counters_are_summed_over_the_workers(server):
    base = server.url
    users = [f"metrics-{i}" for i in range(SUCCEEDED)]
    for name in users:
        response = httpx.post(
            f"{base}/api/auth/register/",
            timeout=TIMEOUT,
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
    name = "authgate_login_attempts_total"
    before = scrape(server)

    def attempt(i):
        password = PASSWORD if i < SUCCEEDED else "wrong-horse-battery-0"
        response = httpx.post(
            f"{base}/api/auth/login/", timeout=TIMEOUT, json={"username": users[i % SUCCEEDED], "password": password}
        )
        return response.status_code

    # Concurrent, so that both (synchronous) workers take some: one is busy hashing.
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(attempt, range(SUCCEEDED + FAILED)))
    assert sorted(statuses) == [200] * SUCCEEDED + [401] * FAILED

    for _ in range(4):  # whichever worker answers the scrape, the sums are the same
        after = scrape(server)
        assert after[(name, (("outcome", "success"),))] - before.get((name, (("outcome", "success"),)), 0) == SUCCEEDED
        assert after[(name, (("outcome", "failure"),))] - before.get((name, (("outcome", "failure"),)), 0) == FAILED
        assert after[("authgate_active_sessions", ())] == SUCCEEDED

    per_process = logins_by_process(server.metrics_dir)
    assert sum(per_process.values()) == SUCCEEDED
    assert len([count for count in per_process.values() if count]) == 2, per_process  # both workers logged some in


def histogram_by_process(directory):
    """{pid: bearer observations} read from each worker's own histogram file."""
    return by_process(directory, "histogram", "authgate_authentication_seconds_bucket", "bearer")


def test_the_authentication_histogram_is_right_after_requests_on_both_workers(server):
    base = server.url
    response = httpx.post(
        f"{base}/api/auth/register/",
        timeout=TIMEOUT,
        json={"username": "histogram", "email": "histogram@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    response = httpx.post(
        f"{base}/api/auth/login/", timeout=TIMEOUT, json={"username": "histogram", "password": PASSWORD}
    )
    access = response.json()["access"]
    requests = 60
    before, files_before = scrape(server), histogram_by_process(server.metrics_dir)

    def get(_):
        return httpx.get(f"{base}/api/protected/", headers={"Authorization": f"Bearer {access}"}, timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=6) as pool:  # concurrent: both workers take some
        assert {r.status_code for r in pool.map(get, range(requests))} == {200}

    bearer = (("scheme", "bearer"),)
    count = ("authgate_authentication_seconds_count", bearer)
    # Each worker moves its queue into its file within FLUSH_SECONDS; a scrape takes its own.
    wait_until(
        lambda: scrape(server)[count] - before[count] == requests,
        10 + metrics.FLUSH_SECONDS,
        "every observation in the scrape",
    )
    for _ in range(4):  # whichever worker answers the scrape
        after = scrape(server)
        assert after[count] - before[count] == requests
        buckets = {
            float(dict(labels)["le"]): after[(name, labels)] - before.get((name, labels), 0)
            for (name, labels) in after
            if name == "authgate_authentication_seconds_bucket" and ("scheme", "bearer") in labels
        }
        bounds = sorted(buckets)
        assert buckets[float("inf")] == requests
        # The sum is of the observations the buckets hold: each lies in (its bucket's lower
        # bound, its bound], so the sum lies between the bounds weighed by the counts.
        lower = [0.0, *bounds[:-1]]
        in_bucket = [buckets[b] - (buckets[lower[i]] if i else 0) for i, b in enumerate(bounds)]
        total = (
            after[("authgate_authentication_seconds_sum", bearer)]
            - before[("authgate_authentication_seconds_sum", bearer)]
        )
        assert 0 < total
        assert (
            sum(n * a for n, a in zip(in_bucket, lower)) <= total <= sum(n * b for n, b in zip(in_bucket, bounds) if n)
        )
    files_after = histogram_by_process(server.metrics_dir)
    served = {pid: files_after.get(pid, 0) - files_before.get(pid, 0) for pid in files_after}
    assert sum(served.values()) == requests  # every bucket file counted once: no observation twice
    assert len([n for n in served.values() if n]) == 2, served  # both workers observed some


def test_metrics_refused_through_a_proxy_header(server):
    response = httpx.get(f"{server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_the_config_makes_its_own_directory_when_none_is_given(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["TMPDIR"] = str(tmp_path)
    import subprocess
    import sys

    code = (
        "import runpy, os; c = runpy.run_path('server/gunicorn.conf.py');"
        "d = os.environ['PROMETHEUS_MULTIPROC_DIR']; print(d); c['on_exit'](None); print(os.path.exists(d))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(tmp_path)) and out[1] == "False"  # fresh per start, removed at exit


def test_json_logs_from_gunicorn_and_the_application(tmp_path):
    """LOG_FORMAT=json: gunicorn's access and error lines are each one JSON object per line."""
    import json

    env = server_environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", AUTHGATE_VAR_DIR=str(tmp_path), LOG_FORMAT="json")
    gunicorn = Gunicorn(
        env, workers=1, log_dir=tmp_path, args=["-c", "server/gunicorn.conf.py", "--access-logfile", "-"]
    ).start()
    lines = []

    def access_line_written():
        lines[:] = [line for line in gunicorn.log_path.read_text().splitlines() if line.strip()]
        return any('"gunicorn.access"' in line for line in lines)

    try:
        response = httpx.get(f"{gunicorn.url}/api/public/?x=1", headers={"User-Agent": "json-test"}, timeout=TIMEOUT)
        assert response.status_code == 200
        wait_until(access_line_written, 30, "the access log line")
    finally:
        gunicorn.stop()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    access = next(e for e in entries if e["logger"] == "gunicorn.access")
    assert (access["method"], access["path"], access["query"]) == ("GET", "/api/public/", "x=1")
    assert access["status"] == "200" and access["user_agent"] == "json-test"
    assert any(e["logger"] == "gunicorn.error" for e in entries)  # "Booting worker ..."
