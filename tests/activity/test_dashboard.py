"""
The staff side of the activity trail: the Django admin lists the events (filters by kind,
reason, user, IP; a date hierarchy; nothing editable) and its "Activity dashboard" draws,
as server-side SVG, logins, failures, throttled attempts and reuse detections per hour over
7 days, the active sessions now, and the IPs with the most failures in 24 hours.

The last test renders the dashboard in Chromium against the live service and keeps a
screenshot under test-artifacts/dashboard/.
"""

import re
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from authgate import activity, charts, sessions
from authgate.models import Activity

DASHBOARD = "/admin/authgate/activity/dashboard/"
CHANGELIST = "/admin/authgate/activity/"


def seed(user, now):
    rows = [Activity(kind=Activity.LOGIN_SUCCEEDED, user=user, created_at=now - timedelta(hours=h)) for h in (1, 1, 30)]
    rows += [Activity(kind=Activity.LOGIN_FAILED, ip="203.0.113.5", created_at=now - timedelta(hours=2))] * 1
    rows += [
        Activity(kind=Activity.LOGIN_FAILED, ip="203.0.113.5", created_at=now - timedelta(minutes=m)) for m in range(3)
    ]
    rows += [Activity(kind=Activity.LOGIN_FAILED, ip="198.51.100.7", created_at=now - timedelta(hours=3))]
    rows += [Activity(kind=Activity.LOGIN_FAILED, ip="198.51.100.8", created_at=now - timedelta(hours=30))]  # > 24 h
    rows += [Activity(kind=Activity.LOGIN_FAILED, ip="198.51.100.9", created_at=now - timedelta(days=8))]  # > 7 days
    rows += [Activity(kind=Activity.REFRESH_REUSE_DETECTED, user=user, created_at=now - timedelta(hours=5))]
    for row in rows:
        row.pk = None
    Activity.objects.bulk_create(rows)


def test_hourly_counts_bucket_by_hour_over_seven_days(user):
    now = timezone.now()
    seed(user, now)
    counts, hours = activity.hourly_counts([Activity.LOGIN_SUCCEEDED, Activity.LOGIN_FAILED], now=now)
    assert len(hours) == len(counts[Activity.LOGIN_FAILED]) == 168
    assert hours[-1] <= now < hours[-1] + timedelta(hours=1)
    assert sum(counts[Activity.LOGIN_SUCCEEDED]) == 3
    assert sum(counts[Activity.LOGIN_FAILED]) == 6  # the one 8 days ago is outside
    assert counts[Activity.LOGIN_FAILED][-1] + counts[Activity.LOGIN_FAILED][-2] >= 3


def test_top_failing_ips_in_the_last_day(user):
    now = timezone.now()
    seed(user, now)
    assert activity.top_failing_ips(now - timedelta(hours=24)) == [("203.0.113.5", 4), ("198.51.100.7", 1)]


def test_charts_escape_what_they_draw():
    svg = charts.ranked_bars([("<script>", 3)], title="a & b", color="#000")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; b" in svg


def test_dashboard_renders_for_staff(admin_client, make_user):
    user = make_user("ada")
    now = timezone.now()
    seed(user, now)
    sessions.open_session(user)
    sessions.open_session(user)
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for kind in ("login_succeeded", "login_failed", "login_throttled", "refresh_reuse_detected"):
        assert f'data-testid="chart-{kind}"' in html
    assert html.count('class="ag-chart"') == 5
    assert re.search(r'data-testid="active-sessions"><strong>2</strong>', html)
    assert "203.0.113.5" in html and "198.51.100.8" not in html
    assert "https://" not in html.split('data-testid="activity-dashboard"')[1]  # nothing fetched from elsewhere


def test_dashboard_is_staff_only(client, make_user):
    make_user("bob")
    client.login(username="bob", password="correct-horse-battery-9")
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_changelist_filters_and_links_the_dashboard(admin_client, user):
    now = timezone.now()
    seed(user, now)
    page = admin_client.get(CHANGELIST, {"kind__exact": "login_failed"}).content.decode()
    assert DASHBOARD in page
    assert page.count("203.0.113.5") >= 4
    by_ip = admin_client.get(CHANGELIST, {"ip": "198.51.100.7"})
    assert by_ip.status_code == 200 and "1 activity event" in by_ip.content.decode()
    assert admin_client.get(CHANGELIST, {"created_at__year": now.year}).status_code == 200


def test_events_cannot_be_added_or_edited(admin_client, user):
    row = Activity.objects.create(kind=Activity.LOGIN_FAILED, user=user, ip="203.0.113.5")
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    page = admin_client.get(f"{CHANGELIST}{row.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()


# -- in Chromium -------------------------------------------------------------------------------
SEED = textwrap.dedent("""
    import django; django.setup()
    from datetime import timedelta
    import random
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from authgate import sessions
    from authgate.models import Activity
    User = get_user_model()
    User.objects.create_superuser("staff", "staff@example.com", {password!r})
    ada = User.objects.create_user("ada", "ada@example.com", {password!r})
    for _ in range(3):
        sessions.open_session(ada)
    rng, now, rows = random.Random(7), timezone.now(), []
    for hour in range(168):
        at = now - timedelta(hours=hour)
        daytime = 8 <= at.hour <= 20
        rows += [Activity(kind="login_succeeded", user=ada, created_at=at) for _ in range(rng.randint(2, 9) if daytime else rng.randint(0, 2))]
        rows += [Activity(kind="login_failed", ip=f"203.0.113.{{rng.randint(1, 6)}}", created_at=at) for _ in range(rng.randint(0, 3))]
    rows += [Activity(kind="login_failed", ip="198.51.100.66", created_at=now - timedelta(hours=2, minutes=m)) for m in range(40)]
    rows += [Activity(kind="login_throttled", ip="198.51.100.66", created_at=now - timedelta(hours=2, minutes=m)) for m in range(12)]
    rows += [Activity(kind="refresh_reuse_detected", user=ada, created_at=now - timedelta(hours=h)) for h in (20, 75)]
    Activity.objects.bulk_create(rows)
""")


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


@pytest.fixture(scope="module")
def chrome():
    from tests.support.browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def live(chrome):  # after `chrome`: no server start when the browser tests are skipped
    from tests.support.browser import PASSWORD, REPO, live_server

    with live_server() as server:
        subprocess.run(
            [sys.executable, "-c", SEED.format(password=PASSWORD)],
            cwd=REPO,
            env=server.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield server


def new_page(browser, server):
    page = browser.new_context(base_url=server.url, viewport={"width": 1100, "height": 900}).new_page()
    page.errors, page.outside = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("request", lambda req: page.outside.append(req.url) if not req.url.startswith(server.url) else None)
    return page


def save(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_dashboard_in_chromium(chrome, live):
    from playwright.sync_api import expect

    from tests.support.browser import PASSWORD

    page = new_page(chrome, live)
    page.goto("/admin/login/?next=" + DASHBOARD)
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.get_by_test_id("activity-dashboard")).to_be_visible()
    expect(page.get_by_test_id("active-sessions")).to_contain_text("3")
    for kind in ("login_succeeded", "login_failed", "login_throttled", "refresh_reuse_detected"):
        chart = page.get_by_test_id(f"chart-{kind}").locator("svg")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] > 300
        assert chart.locator("rect").count() > 0
    expect(page.get_by_test_id("failing-ips")).to_contain_text("198.51.100.66")
    save(page, "activity-dashboard")
    assert not page.errors, page.errors
    assert not page.outside, f"the dashboard fetched from elsewhere: {page.outside}"


@pytest.mark.browser
def test_account_page_shows_recent_security_activity(chrome, live):
    from playwright.sync_api import expect

    from tests.support.browser import sign_in

    live.register("grace")
    status, _body = live.api("POST", "/api/auth/login/", {"username": "grace", "password": "not-her-password"})
    assert status == 401
    page = new_page(chrome, live)
    page.goto("/")
    sign_in(page, "grace")
    items = page.get_by_test_id("activity").locator("li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_attribute("data-kind", "login_succeeded")
    expect(items.nth(0)).to_contain_text("this device")
    expect(items.nth(1)).to_have_attribute("data-kind", "login_failed")
    expect(items.nth(1)).to_contain_text("Failed sign-in attempt")
    save(page, "account-activity")
    assert not page.errors, page.errors
