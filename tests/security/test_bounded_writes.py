"""
Bounded writes under attack: an attempt refused by the failed-login throttle writes
nothing of its own — no counter row for a new name from a blocked address (the per-address
limit is read before any per-account row), at most one `login_throttled` row per (account,
address) a minute however the name is spelled, and at most
THROTTLED_ROWS_PER_ADDRESS such rows a minute per blocked address.

`AUTHGATE_THROTTLED_ATTEMPTS=1000 pytest tests/security/test_bounded_writes.py -s --timeout=0` prints
the rows written per that many throttled attempts (100 by default, to keep `make test` lean).
"""

import itertools
import math
import os
import time

import pytest
from django.test import override_settings

from authgate.activity import THROTTLED_ROWS_PER_ADDRESS
from authgate.models import Activity, AttemptCounter

pytestmark = pytest.mark.django_db

ATTEMPTS = int(os.environ.get("AUTHGATE_THROTTLED_ATTEMPTS", "100"))
IP = "203.0.113.77"
LIMITS = {"LOGIN_THROTTLE": {"USER_IP": "5/15m", "IP": "50/15m"}}


def login(client, username, password="wrong-password-1"):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=IP)


def spellings(name):
    """Every mix of case and full width of `name`: one account, many strings."""
    forms = [(c, c.upper(), chr(ord(c) + 0xFEE0), chr(ord(c.upper()) + 0xFEE0)) for c in name]
    return ["".join(letters) for letters in itertools.product(*forms)]


def rows():
    return Activity.objects.count() + AttemptCounter.objects.count()


class Minutes:
    """How many minutes (each allowed its own summary rows) a loop spanned."""

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.count = math.ceil((time.monotonic() - self.started) / 60) + 1


@override_settings(AUTHGATE=LIMITS)
def test_spellings_of_a_locked_account_write_one_row_a_minute(api_client, make_user):
    victim = make_user("alice")
    for _ in range(5):
        assert login(api_client, "alice").status_code == 401
    before = rows()
    names = spellings("alice")
    with Minutes() as minutes:
        answers = [login(api_client, names[i % len(names)]).status_code for i in range(ATTEMPTS)]
    assert set(answers) == {429}
    written = rows() - before
    print(f"\n{ATTEMPTS} throttled attempts at one account, spelled {min(ATTEMPTS, len(names))} ways: {written} rows")
    assert 1 <= written <= minutes.count
    assert Activity.objects.filter(user=victim, kind=Activity.LOGIN_THROTTLED).count() == written


@override_settings(AUTHGATE=LIMITS)
def test_a_blocked_address_writes_no_counter_row_and_a_capped_number_of_summaries(api_client, make_user):
    make_user("alice")
    for i in range(50):  # the address's budget, spent on names that are no account
        assert login(api_client, f"nobody-{i}").status_code == 401
    before_counters, before_activity = AttemptCounter.objects.count(), Activity.objects.count()
    names = spellings("alice")
    with Minutes() as minutes:
        answers = [
            login(api_client, names[i // 2 % len(names)] if i % 2 else f"stranger-{i}").status_code
            for i in range(ATTEMPTS)
        ]
    assert set(answers) == {429}
    counters_written = AttemptCounter.objects.count() - before_counters
    activity_written = Activity.objects.count() - before_activity
    print(
        f"\n{ATTEMPTS} throttled attempts from a blocked address, {ATTEMPTS // 2} names: "
        f"{counters_written} counter rows, {activity_written} activity rows"
    )
    assert counters_written == 0
    assert activity_written <= THROTTLED_ROWS_PER_ADDRESS * minutes.count
    assert Activity.objects.filter(username__in=names, kind=Activity.LOGIN_THROTTLED).count() <= minutes.count
