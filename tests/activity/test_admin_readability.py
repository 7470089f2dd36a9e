"""
The staff pages read at a glance: the activity list counts "activity events" and keeps one
line a row (a long user agent shortened, whole on hover), and the dashboard's week is drawn
as bars of three hours, wide enough to see.
"""

import re
from datetime import timedelta

from django.utils import timezone

from authgate import activity, charts
from authgate.models import Activity

CHANGELIST = "/admin/authgate/activity/"
LONG_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"


def test_the_list_counts_activity_events_and_shortens_user_agents(admin_client, user):
    Activity.objects.bulk_create(
        [Activity(kind=Activity.LOGIN_FAILED, user=user, ip="203.0.113.5", user_agent=LONG_UA) for _ in range(9)]
    )
    page = admin_client.get(CHANGELIST, {"ip": "203.0.113.5"}).content.decode()
    assert "9 activity events" in page
    assert f'<span title="{LONG_UA}">{LONG_UA[:40]}…</span>' in page
    assert f">{LONG_UA}<" not in page


def test_the_week_is_drawn_in_bars_of_three_hours(user):
    now = timezone.now()
    Activity.objects.bulk_create(
        [Activity(kind=Activity.LOGIN_SUCCEEDED, user=user, created_at=now - timedelta(hours=h)) for h in range(168)]
    )
    counts, hours = activity.hourly_counts([Activity.LOGIN_SUCCEEDED], now=now)
    bars, starts = charts.bucketed(counts[Activity.LOGIN_SUCCEEDED], hours, 3)
    assert len(bars) == len(starts) == 56 and sum(bars) == 168
    svg = charts.hourly_bars(bars, starts, title="Logins per 3 hours", color="#000", span=3)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert len(widths) == 56 and min(widths) >= 10
    assert len(re.findall(r"<line [^>]*stroke=\"#ccc\"", svg)) in (6, 7)  # a tick at each midnight
