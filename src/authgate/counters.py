"""
Atomic attempt counters shared by every server process: "may this key be tried once more
in the current window?" — the primitive under the failed-login throttle, reusable by any
other limit (reset mails per email and per IP, ...).

    from authgate import counters

    hit = counters.hit("reset-mail:email:" + email, limit=3, window=3600, label=email, ip=ip)
    if not hit.allowed:
        raise Throttled(wait=hit.retry_after)
    ...
    counters.reset(key)               # forget the key (e.g. after a success)
    counters.release(key, hit)        # give back the slot that `hit` took

`hit()` *reserves* a slot before the guarded work runs: it adds one to the key's count only
while the count is below `limit`, in one conditional statement (an upsert on SQLite and
PostgreSQL, conditional UPDATEs elsewhere), so N concurrent callers take
at most `limit` slots between them — on SQLite and PostgreSQL, with any number of
processes — and a refused call does not count. Windows are fixed: the first hit opens a
window of `window` seconds, and when it has passed the next hit starts again at one.

The counts are rows of the `AttemptCounter` table (not Django's cache, whose `incr` is not
atomic on every backend), so they hold wherever the database does, and support can list
and lift lockouts (the admin's "current lockouts", `manage.py authgate_lockouts`). Keys
are the caller's strings, `scope:identity`; the part before the first colon is the scope
shown in the admin. A key longer than the column is stored as its scope plus a hash.
`label` and `ip` are only for people reading the list.
"""

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from typing import cast

from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .net import valid_ip

from .models import AttemptCounter, AttemptCounterQuerySet

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
KEY_LENGTH = cast(int, AttemptCounter._meta.get_field("key").max_length)  # a CharField's: always set


@dataclass(frozen=True)
class Hit:
    """The answer of `hit()`; unpacks as `(allowed, retry_after)`."""

    allowed: bool
    retry_after: int  # seconds until the window ends (when refused: when to try again)
    window_ends: datetime | None = None  # lets `release()` give back exactly this slot

    def __iter__(self) -> Iterator[bool | int]:
        return iter((self.allowed, self.retry_after))


def parse_rate(rate: object) -> tuple[int, int] | tuple[None, None]:
    """'5/15m' → (5, 900): a limit per window, as LOGIN_THROTTLE spells it; None → (None, None)."""
    if rate is None:
        return None, None
    match = _RATE.match(str(rate))
    if not match:
        raise ValueError(f"Invalid rate: {rate!r} (expected e.g. '5/15m')")
    num, multiplier, unit = match.groups()
    return int(num), int(multiplier or 1) * _UNITS[unit]


def storage_key(key: str) -> str:
    """The stored form of `key`: itself, or scope + hash when it is too long for the column."""
    if len(key) <= KEY_LENGTH:
        return key
    scope = key.split(":", 1)[0][:40]
    return f"{scope}:#{hashlib.sha256(key.encode()).hexdigest()}"


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def hit(key: str, limit: int, window: float | timedelta, *, label: str = "", ip: str | None = None) -> Hit:
    """Take one of `limit` slots of `key` in the current window of `window` seconds (or a
    timedelta). Returns Hit(allowed, retry_after, window_ends); a refused hit takes nothing."""
    key, label, ip = storage_key(key), (label or "")[:200], valid_ip(ip)
    window = window if isinstance(window, timedelta) else timedelta(seconds=window)
    now = timezone.now()
    if limit < 1:
        return Hit(False, _seconds_until(now + window, now))
    connection = connections[router.db_for_write(AttemptCounter)]
    if connection.vendor in _UPSERT_VENDORS:
        ends = _upsert(connection, key, limit, now, now + window, label, ip)
    else:
        ends = _hit_portably(key, limit, now, window, label, ip)
    if ends is not None:
        return Hit(True, _seconds_until(ends, now), ends)
    current = AttemptCounter.objects.filter(key=key).values_list("window_ends", flat=True).first()
    current = current or now + window
    return Hit(False, _seconds_until(current, now), current)


def hit_many(wanted: "Iterable[tuple[str, int, float | timedelta, str]]", *, ip: str | None = None) -> dict[str, Hit]:
    """`hit()` for several keys at once — (key, limit, window, label) each, keys distinct —
    in one statement on SQLite and PostgreSQL (one round trip, one commit): each key takes
    its slot or not, independently, as `hit()` would. Returns {key: Hit}; a caller that
    needs all or nothing `release()`s the slots taken when one was refused."""
    ip = valid_ip(ip)
    now = timezone.now()
    rows = []
    for key, limit, window, label in wanted:
        window = window if isinstance(window, timedelta) else timedelta(seconds=window)
        rows.append((key, storage_key(key), limit, now + window, (label or "")[:200]))
    if not rows:
        return {}
    # One order for every writer of these rows (by stored key): a statement locks them in
    # this order, and a transaction holding one of them (a login's) never waits on a
    # statement that holds the other.
    rows.sort(key=lambda row: row[1])
    connection = connections[router.db_for_write(AttemptCounter)]
    if connection.vendor not in _UPSERT_VENDORS or any(limit < 1 for _k, _s, limit, _e, _l in rows):
        return {key: hit(key, limit, ends - now, label=label, ip=ip) for key, _stored, limit, ends, label in rows}
    taken = _upsert_many(connection, [(stored, limit, ends, label) for _k, stored, limit, ends, label in rows], now, ip)
    answers = {}
    for key, stored, _limit, ends, _label in rows:
        if stored in taken:
            answers[key] = Hit(True, _seconds_until(taken[stored], now), taken[stored])
        else:
            current = AttemptCounter.objects.filter(key=stored).values_list("window_ends", flat=True).first()
            current = current or ends
            answers[key] = Hit(False, _seconds_until(current, now), current)
    return answers


# SQLite (3.35+) and PostgreSQL: one INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING
# statement takes the slot, starts the key's first window or restarts an ended one — the same
# single statement whether or not the key exists, atomic under the row lock.
_UPSERT_VENDORS = {"sqlite", "postgresql"}
_UPSERT = """
INSERT INTO {table} ({key}, {count}, {limit}, {ends}, {label}, {ip}) VALUES (%s, 1, %s, %s, %s, %s)
ON CONFLICT ({key}) DO UPDATE SET
    {count} = CASE WHEN {table}.{ends} <= %s THEN 1 ELSE {table}.{count} + 1 END,
    {ends} = CASE WHEN {table}.{ends} <= %s THEN excluded.{ends} ELSE {table}.{ends} END,
    {limit} = excluded.{limit}, {label} = excluded.{label}, {ip} = excluded.{ip}
WHERE {table}.{ends} <= %s OR {table}.{count} < %s
RETURNING {ends}
"""


def _upsert(
    connection: BaseDatabaseWrapper, key: str, limit: int, now: datetime, ends: datetime, label: str, ip: str | None
) -> datetime | None:
    """The window end when a slot was taken, else None (the key is at its limit)."""
    sql = _UPSERT.format(**_columns(connection))
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, limit, adapt(ends), label, ip, adapt(now), adapt(now), adapt(now), limit])
        row = cursor.fetchone()
    return _window_end_from_db(row[0]) if row else None


# `hit_many()`: the same statement for several keys (each row's own limit: `excluded`).
_UPSERT_MANY = """
INSERT INTO {table} ({key}, {count}, {limit}, {ends}, {label}, {ip}) VALUES {values}
ON CONFLICT ({key}) DO UPDATE SET
    {count} = CASE WHEN {table}.{ends} <= %s THEN 1 ELSE {table}.{count} + 1 END,
    {ends} = CASE WHEN {table}.{ends} <= %s THEN excluded.{ends} ELSE {table}.{ends} END,
    {limit} = excluded.{limit}, {label} = excluded.{label}, {ip} = excluded.{ip}
WHERE {table}.{ends} <= %s OR {table}.{count} < excluded.{limit}
RETURNING {key}, {ends}
"""


def _columns(connection: BaseDatabaseWrapper) -> dict[str, str]:
    quote = connection.ops.quote_name
    meta = AttemptCounter._meta
    columns = {f.name: str(f.column) for f in meta.concrete_fields}
    names = {"key": "key", "count": "count", "limit": "limit", "ends": "window_ends", "label": "label", "ip": "ip"}
    return {"table": quote(meta.db_table), **{name: quote(columns[field]) for name, field in names.items()}}


def _upsert_many(
    connection: BaseDatabaseWrapper,
    rows: "list[tuple[str, int, datetime, str]]",
    now: datetime,
    ip: str | None,
) -> dict[str, datetime]:
    """{stored key: window end} of the keys whose slot was taken."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = _UPSERT_MANY.format(values=", ".join(["(%s, 1, %s, %s, %s, %s)"] * len(rows)), **_columns(connection))
    params: list[str | int | None] = []
    for key, limit, ends, label in rows:
        params += [key, limit, adapt(ends), label, ip]
    params += [adapt(now)] * 3
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: _window_end_from_db(ends) for key, ends in cursor.fetchall()}


def _window_end_from_db(value: str | datetime) -> datetime:
    """A window end as the database returned it (SQLite: text) → an aware datetime."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        raise ValueError(f"Not a datetime: {value!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt_timezone.utc)
    return moment


def _hit_portably(
    key: str, limit: int, now: datetime, window: timedelta, label: str, ip: str | None
) -> datetime | None:
    """The same with the ORM, for other databases: conditional UPDATEs, then an INSERT."""
    rows = AttemptCounter.objects.filter(key=key)
    for _ in range(5):  # only a race with another process's insert or restart loops
        now = timezone.now()
        ends = now + window
        # A window that has passed restarts at one (the WHERE is re-checked under the row
        # lock, so of two processes seeing it expired only one restarts it).
        if rows.filter(window_ends__lte=now).update(count=1, limit=limit, window_ends=ends, label=label, ip=ip):
            return ends
        if rows.filter(window_ends__gt=now, count__lt=limit).update(count=F("count") + 1, limit=limit):
            return rows.values_list("window_ends", flat=True).first() or ends
        row = rows.values_list("window_ends", "count").first()
        if row is not None:
            current, taken = row
            if current > now and taken >= limit:
                return None
            continue  # created, restarted or expired by another process meanwhile: again
        try:
            with transaction.atomic():
                AttemptCounter.objects.create(key=key, count=1, limit=limit, window_ends=ends, label=label, ip=ip)
            return ends
        except IntegrityError:
            continue  # another process created it first: count against its row
    raise RuntimeError(f"Attempt counter {key!r} kept changing under this process")


def release(key: str, hit_result: Hit | None) -> None:
    """Give back the slot `hit_result` took (the guarded thing turned out not to count),
    unless its window has already been replaced by a new one."""
    if hit_result is None or not hit_result.allowed or hit_result.window_ends is None:
        return
    AttemptCounter.objects.filter(key=storage_key(key), window_ends=hit_result.window_ends, count__gt=0).update(
        count=F("count") - 1
    )


def reset(key: str) -> None:
    """Forget `key`'s count (e.g. a successful login resets its failures)."""
    AttemptCounter.objects.filter(key=storage_key(key)).delete()


def count(key: str) -> int:
    """The current window's count of `key` (0 when none is open)."""
    row = AttemptCounter.objects.filter(key=storage_key(key), window_ends__gt=timezone.now()).first()
    return row.count if row else 0


def spent(keys: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """{key: seconds until its window ends} for those of `keys` that refuse hits right now
    (a read: nothing is written), so a caller can refuse without touching a row."""
    now = now or timezone.now()
    stored = {storage_key(key): key for key in keys}
    rows = AttemptCounter.objects.locked(now).filter(key__in=list(stored)).values_list("key", "window_ends")
    return {stored[key]: _seconds_until(ends, now) for key, ends in rows}


def lockouts(now: datetime | None = None) -> AttemptCounterQuerySet:
    """Counters that refuse hits right now (count at the limit, window not over)."""
    return AttemptCounter.objects.locked(now)


def purge(now: datetime | None = None) -> int:
    """Delete counters whose window has ended; returns the count (for the cleanup command)."""
    deleted, _ = AttemptCounter.objects.filter(window_ends__lte=now or timezone.now()).delete()
    return deleted
