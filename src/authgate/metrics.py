"""
Prometheus metrics (through prometheus_client, an optional dependency: without it every
function here is a no-op and GET /metrics answers 404).

Counters are incremented where the event happens (`activity.record()` counts each security
event, the refresh path counts its outcome, the session cache adds its hits and misses in
batches of a few thousand lookups per process); `authgate_active_sessions` is a COUNT made at
scrape time, so no process has to keep a gauge in step. With several server processes
(gunicorn workers) set PROMETHEUS_MULTIPROC_DIR before they start: prometheus_client then
keeps each process's values in a file there, and a scrape sums them
(server/gunicorn.conf.py does this for `make run`).

The authentication-time histogram is observed on every authenticated request, so it is
batched: the request only appends its duration to a per-process queue (one C call, no lock);
a flusher thread of the process moves the queue into the histogram's values (bucket counts
and sum, one write per bucket touched) at most FLUSH_SECONDS after the first observation
it has not moved yet. Invariants: every observation is counted exactly once, in the process
that made it (a forked child starts with an empty queue); a scrape sees every observation
of the process that answers it and every other process's older than FLUSH_SECONDS (a
process killed with SIGKILL loses at most its last FLUSH_SECONDS); the queue is flushed at
interpreter exit, and on the request path if it ever holds MAX_PENDING observations (a
flusher that cannot run).

`MetricsView` serves the text format to the addresses of METRICS_ALLOWED_IPS only
(loopback by default).
"""

import atexit
import ipaddress
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterator
from functools import partial
from itertools import repeat, starmap
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import View

from .conf import api_settings

try:
    import prometheus_client
    from prometheus_client import multiprocess
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # pragma: no cover — the reusable app runs without it
    prometheus_client = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

LOGIN_OUTCOMES = {"login_succeeded": "success", "login_failed": "failure", "login_throttled": "throttled"}
REFRESH_OUTCOMES = ("rotated", "retried", "reuse_detected", "invalid")
MFA_EVENTS = (
    "mfa_added",
    "mfa_removed",
    "mfa_used",
    "mfa_failed",
    "recovery_code_used",
    "recovery_codes_regenerated",
    "reauthenticated",
)
# Every reason a session ends for (Session.end_reason): each series exists, at 0, from the
# first scrape, so that dashboards and alerts see 0 rather than "no data". A new reason
# belongs here (a test compares this list with the reasons the code uses).
SESSION_END_REASONS = (
    "logout",
    "logout_all",
    "password_changed",
    "password_reset",
    "account_deleted",
    "user_inactive",
    "admin",
    "invalidate_all",
    "reuse_detected",
    "factors_removed",
)
# Buckets for a check that should take well under a millisecond when nothing changed.
AUTH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

if prometheus_client is not None:
    LOGIN_ATTEMPTS = prometheus_client.Counter("authgate_login_attempts", "Password logins by outcome.", ["outcome"])
    REFRESH = prometheus_client.Counter("authgate_refresh", "Refresh token presentations by outcome.", ["outcome"])
    SESSIONS_ENDED = prometheus_client.Counter("authgate_sessions_ended", "Sessions ended, by reason.", ["reason"])
    AUTHENTICATION_SECONDS = prometheus_client.Histogram(
        "authgate_authentication_seconds", "Time to check a request's credential.", ["scheme"], buckets=AUTH_BUCKETS
    )
    # Label children bound once: the hot path must not look them up per request.
    _login = {kind: LOGIN_ATTEMPTS.labels(outcome) for kind, outcome in LOGIN_OUTCOMES.items()}
    _refresh = {outcome: REFRESH.labels(outcome) for outcome in REFRESH_OUTCOMES}
    _auth_seconds = {scheme: AUTHENTICATION_SECONDS.labels(scheme) for scheme in ("bearer", "token")}
    MFA = prometheus_client.Counter("authgate_mfa_events", "Second-factor events, by event.", ["event"])
    _mfa = {event: MFA.labels(event) for event in MFA_EVENTS}
    for _outcome in _mfa.values():
        _outcome.inc(0)
    for _outcome in _login.values():  # every series present from the start (rate() needs it)
        _outcome.inc(0)
    for _outcome in _refresh.values():
        _outcome.inc(0)
    for _reason in SESSION_END_REASONS:
        SESSIONS_ENDED.labels(_reason).inc(0)
    SESSION_CACHE = prometheus_client.Counter(
        "authgate_session_cache_lookups",
        "Session cache lookups by result (hit, miss); each process adds its counts every few thousand lookups.",
        ["result"],
    )
    _cache_hit, _cache_miss = SESSION_CACHE.labels("hit"), SESSION_CACHE.labels("miss")
    _cache_hit.inc(0)
    _cache_miss.inc(0)


def count_event(kind: str, reason: str = "", count: int = 1) -> None:
    """Count a security event (called by `activity.record`)."""
    if prometheus_client is None:
        return
    if kind in LOGIN_OUTCOMES:
        _login[kind].inc(count)
    elif kind in _mfa:
        _mfa[kind].inc(count)
    elif kind == "refresh_reuse_detected":
        _refresh["reuse_detected"].inc(count)
    elif kind == "session_ended" and count:
        SESSIONS_ENDED.labels(reason or "unknown").inc(count)


# -- the authentication histogram, batched per process ----------------------------------------
FLUSH_SECONDS = 1.0
MAX_PENDING = 50_000
_pending: dict[str, deque[float]] = {"bearer": deque(), "token": deque()}
_scheduled = False  # True from the first queued observation until the flusher takes the queue
_wake = threading.Event()
_draining = threading.Lock()
_flusher: threading.Thread | None = None


def observe_authentication(scheme: str, seconds: float) -> None:
    """The per-request credential check took `seconds` ("bearer" or "token")."""
    if prometheus_client is None:
        return
    pending = _pending[scheme]
    pending.append(seconds)  # atomic (the GIL): no lock on the request path
    # Queued first, then the flag read: the flusher clears the flag before it takes the
    # queue, so an observation it missed always sees the flag down and wakes it again.
    if not _scheduled or len(pending) >= MAX_PENDING:
        _schedule(pending)


def _schedule(pending: deque[float]) -> None:
    global _scheduled, _flusher
    if len(pending) >= MAX_PENDING:
        flush_observations()
        return
    _scheduled = True
    if _flusher is None:
        _flusher = threading.Thread(target=_flush_forever, name="authgate-metrics", daemon=True)
        _flusher.start()
    _wake.set()


def _flush_forever() -> None:
    global _scheduled
    while True:
        _wake.wait()
        time.sleep(FLUSH_SECONDS)
        _wake.clear()  # before the flag: an observation that raises the flag now wakes the next round
        _scheduled = False
        try:
            flush_observations()
        except Exception:  # pragma: no cover — the thread must outlive a failed write
            logger.exception("authgate: flushing the authentication histogram failed")


def flush_observations() -> None:
    """Move every queued observation into the histogram (bucket counts and sum): the flusher
    thread does it, a scrape does it for its own process, and so does the exit."""
    if prometheus_client is None:
        return
    with _draining:  # one taker at a time: each observation is taken once
        for scheme, pending in _pending.items():
            count = len(pending)
            if not count:
                continue
            # Taken from the left, exactly as many as were there: later ones stay queued.
            batch = list(starmap(pending.popleft, repeat((), count)))
            child = _auth_seconds[scheme]
            # The child's own values, as Histogram.observe() writes them: bucket i holds the
            # observations <= its bound and above the previous one (bisect_left: the first
            # bound >= the value); prometheus_client makes them cumulative when collected.
            bucket_of = partial(bisect_left, child._upper_bounds)
            for index, observations in Counter(map(bucket_of, batch)).items():
                child._buckets[index].inc(observations)
            child._sum.inc(sum(batch))


def _after_fork_in_child() -> None:
    # The parent's queue is the parent's to flush; the thread did not survive the fork.
    global _scheduled, _wake, _draining, _flusher
    for scheme in _pending:
        _pending[scheme] = deque()
    _scheduled, _wake, _draining, _flusher = False, threading.Event(), threading.Lock(), None


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_observations)


def count_session_cache(hits: int, misses: int) -> None:
    """Add a batch of session cache lookups (the store calls this every STATS_EVERY lookups,
    so the hot path pays nothing per request)."""
    if prometheus_client is not None:
        _cache_hit.inc(hits)
        _cache_miss.inc(misses)


def count_refresh(outcome: str) -> None:
    if prometheus_client is not None:
        _refresh[outcome].inc()


class ActiveSessionsCollector:
    """`authgate_active_sessions`: sessions not ended and not past their absolute cap, counted
    in the database when scraped (one indexed COUNT), right whatever the process count. The
    model is found through the app registry, so that this module, which the session layer
    counts into, imports nothing of the models above it."""

    def collect(self) -> Iterator["Metric"]:
        session_model: Any = apps.get_model("authgate", "Session")
        gauge = GaugeMetricFamily("authgate_active_sessions", "Sessions whose tokens can still be used.")
        gauge.add_metric([], session_model.objects.active().count())
        yield gauge


class _Scrape:
    """What one scrape collects: every process's metrics, plus the database-derived ones."""

    def __init__(self) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")
        if directory:
            self.source = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(self.source, path=directory)
        else:
            self.source = prometheus_client.REGISTRY

    def collect(self) -> Iterator["Metric"]:
        flush_observations()  # this process's queue: its own requests are all in the answer
        yield from self.source.collect()
        yield from ActiveSessionsCollector().collect()


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in api_settings.METRICS_ALLOWED_IPS]


def address_allowed(request: HttpRequest) -> bool:
    """True if the peer, and any client a proxy says it forwards for, is in METRICS_ALLOWED_IPS:
    behind a reverse proxy on the same host the peer is loopback, yet the client is not."""
    networks = _networks()
    candidates = [request.META.get("REMOTE_ADDR", "")]
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"):
        candidates += [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
    if request.META.get("HTTP_FORWARDED"):
        return False  # RFC 7239's syntax is not worth parsing here: a proxied scrape is refused
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate.strip("[]"))
        except ValueError:
            return False
        if not any(address in network for network in networks):
            return False
    return True


class MetricsView(View):
    """GET /metrics: the Prometheus text exposition format."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if prometheus_client is None:
            return JsonResponse(
                {
                    "detail": str(_("Metrics are not available: prometheus_client is not installed.")),
                    "code": "not_found",
                },
                status=404,
            )
        if not address_allowed(request):
            return JsonResponse(
                {"detail": str(_("Metrics are not served to this address.")), "code": "permission_denied"}, status=403
            )
        return HttpResponse(
            prometheus_client.generate_latest(_Scrape()), content_type=prometheus_client.CONTENT_TYPE_LATEST
        )
