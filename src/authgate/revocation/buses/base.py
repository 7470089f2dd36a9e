"""
The `Bus` protocol, and `PushBus`, the heartbeat/fence machinery that the Redis and
PostgreSQL buses share.

A bus carries invalidation messages (`revocation.messages`) between the processes of one
deployment, and says whether this process may believe its cache right now. It never touches
a cache: what it hears it reports through two callbacks given to `listen()` —
`on_change(messages)` for invalidations, `on_reset()` whenever what happened before can no
longer be known (a new subscription, a failure). The store wires them to its cache.

The three verbs, the same on every bus:

- `trusted()`: may this process answer from its cache now? (the request path; cheap)
- `publish(messages)`: after a commit, make the messages reach every other process
  (a bus whose database triggers already sent them does nothing). False if it could not.
- `fence()`: return once every listening process has applied everything published before
  now — or once those that did not answer can no longer trust their caches. False if
  someone did not answer. The store calls it once per request, however many changes the
  request made.

`PushBus`'s invariants (a subscription read by a background thread):

- trusted only while subscribed and while this process's *own* heartbeat came back less
  than `TRUST` seconds ago: a silent disconnect expires trust by itself;
- on any error `on_reset()` is reported and trust ends at once; the thread reconnects every
  `RETRY` seconds and reports `on_reset()` again once subscribed;
- the request path reads whatever waits on the socket before answering `trusted()`, so a
  message that reached this host before the request is always applied before it;
- a fence is answered by each process once it has read everything sent before the fence
  (the channel is ordered); a process that does not answer within TRUST has not heard the
  echo of any heartbeat sent after the fence either, so it no longer trusts its cache;
- the fencing process waits for every process it heard from before its own fence came
  back, and, in the first TRUST seconds after its own (re)subscription, for TRUST seconds
  after it (a stalled process it never heard cannot announce itself); when it cannot
  fence at all it waits TRUST seconds.

Subclasses provide `_connect()`, `_fileno()`, `_read()` (drain what arrived; call
`_received(message, own)`), `_send(payload)`, `_send_heartbeat(payload)`, `_disconnect()`,
`publish()` and `_send_fence(payload)` (how a fence travels after the caller's commit).
"""

import logging
import os
from abc import ABC, abstractmethod
import select
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

logger = logging.getLogger("authgate.revocation")

OnChange = Callable[[Sequence[str]], None]
OnReset = Callable[[], None]


def _ignore(*args: object) -> None:
    return None


@runtime_checkable
class Bus(Protocol):
    """What a store needs of a bus (see the module docstring for the contract)."""

    label: str

    def listen(self, on_change: OnChange, on_reset: OnReset) -> None: ...

    def trusted(self) -> bool: ...

    def publish(self, messages: Sequence[str]) -> bool: ...

    def fence(self) -> bool: ...

    def health(self) -> str: ...

    def close(self) -> None: ...


class BusError(Exception):
    pass


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


class _Fence:
    """One fence this process waits for: who answered, and (once its own fence came back)
    who still must."""

    __slots__ = ("answered", "expected", "done")

    def __init__(self) -> None:
        self.answered: set[str] = set()
        self.expected: set[str] | None = None
        self.done = threading.Event()


class PushBus(ABC):
    """A subscription read by a background thread, trusted while heartbeats echo."""

    label = "Revocation bus"  # in log messages
    HEARTBEAT = 0.5  # seconds between heartbeats
    TRUST = 2.0  # seconds a heartbeat's echo keeps the cache trusted (the documented bound)
    RETRY = 1.0  # seconds between reconnection attempts

    def __init__(self) -> None:
        self._on_change: OnChange = _ignore
        self._on_reset: OnReset = _ignore
        self._lock = threading.RLock()
        self._trusted_until = 0.0
        self._subscribed_at = 0.0
        self._nonce = uuid.uuid4().hex
        self._sent: dict[int, float] = {}  # heartbeat seq -> monotonic time sent
        self._seq = 0
        self._broken: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._fences: dict[str, _Fence] = {}  # fence id -> who answered, who must
        self._peers: dict[str, float] = {}  # nonce of another listening process -> when last heard
        self._last_warning = 0.0
        self._echoed_until = 0.0  # trust the echoes of the batch being read will give

    def _renew_trust(self) -> None:
        """After a batch of messages was applied (lock held): its echoes renew the trust. A
        process whose trust had lapsed cannot know what it missed meanwhile (a revocation
        whose publish failed never reaches it): it forgets its cache before trusting again."""
        until, self._echoed_until = self._echoed_until, 0.0
        if until <= self._trusted_until:
            return
        if time.monotonic() >= self._trusted_until:
            self._on_reset()
        self._trusted_until = until

    def listen(self, on_change: OnChange, on_reset: OnReset) -> None:
        """Report invalidations to `on_change`, lost knowledge to `on_reset` (before any use)."""
        self._on_change, self._on_reset = on_change, on_reset

    # -- what subclasses provide -----------------------------------------------------------
    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _fileno(self) -> int: ...

    @abstractmethod
    def _read(self) -> None: ...

    @abstractmethod
    def _send(self, payload: str) -> None: ...

    @abstractmethod
    def _send_heartbeat(self, payload: str) -> None: ...

    @abstractmethod
    def _send_fence(self, payload: str) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...

    @abstractmethod
    def publish(self, messages: Sequence[str]) -> bool: ...

    def _after_read(self) -> None:  # noqa: B027 - an optional hook: most buses have nothing to do
        """Work the listener thread does without the lock (e.g. network round trips)."""

    # -- the request path ------------------------------------------------------------------
    def trusted(self) -> bool:
        if time.monotonic() >= self._trusted_until:
            self._ensure_thread()
            return False
        try:
            readable = select.select([self._fileno()], [], [], 0)[0]
        except (OSError, ValueError, TypeError, AttributeError):
            return False
        if readable:
            with self._lock:
                try:
                    self._read()
                    self._renew_trust()
                except Exception as exc:  # noqa: BLE001 — any failure: distrust, the thread reconnects
                    self._fail(exc)
                    return False
        return time.monotonic() < self._trusted_until

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._stop.is_set() or (
                self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()
            ):
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name=f"authgate-{type(self).__name__}", daemon=True)
            self._thread.start()

    # -- the listener thread ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._broken = None
                    self._connect()
                    self._subscribed_at = time.monotonic()
                    self._on_reset()  # whatever happened before this subscription is unknown
                next_heartbeat = 0.0
                while not self._stop.is_set():
                    if self._broken is not None:
                        raise BusError(str(self._broken))
                    now = time.monotonic()
                    if now >= next_heartbeat:
                        with self._lock:
                            self._heartbeat()
                        next_heartbeat = now + self.HEARTBEAT
                    readable = select.select(
                        [self._fileno(), self._wake_r], [], [], max(0.0, next_heartbeat - time.monotonic())
                    )[0]
                    if self._wake_r in readable:
                        os.read(self._wake_r, 4096)
                    if self._fileno() in readable:
                        with self._lock:
                            self._read()
                            self._renew_trust()
                    self._after_read()
            except Exception as exc:  # noqa: BLE001
                with self._lock:
                    if not self._stop.is_set():
                        self._fail(exc)
                    self._safe_disconnect()
                self._stop.wait(self.RETRY)
        with self._lock:
            self._safe_disconnect()

    def _heartbeat(self) -> None:
        self._seq += 1
        self._sent[self._seq] = time.monotonic()
        if len(self._sent) > 16:  # echoes that never came: forget the oldest
            del self._sent[min(self._sent)]
        self._send_heartbeat(f"hb:{self._nonce}:{self._seq}")

    def _received(self, message: str, own: bool = True) -> None:
        """One message from the bus (called with the lock held)."""
        kind, _, rest = message.partition(":")
        if kind == "hb":
            nonce, _, seq = rest.partition(":")
            if nonce != self._nonce:
                self._peers[nonce] = time.monotonic()
            elif own:
                sent = self._sent.pop(int(seq), None)
                if sent is not None:  # applied once the whole batch read with it is (`_renew_trust`)
                    self._echoed_until = max(self._echoed_until, sent + self.TRUST)
        elif kind == "fence":  # everything sent before it has been applied here: say so
            fence_id, _, sender = rest.partition(":")
            if sender != self._nonce:
                self._send(f"ack:{fence_id}:{self._nonce}")
            elif (mine := self._fences.get(fence_id)) is not None:
                self._own_fence_back(mine)
        elif kind == "ack":
            fence_id, _, nonce = rest.partition(":")
            waiting = self._fences.get(fence_id)
            if waiting is not None:
                waiting.answered.add(nonce)
                if waiting.expected is not None:
                    waiting.expected.discard(nonce)
                    if not waiting.expected:
                        waiting.done.set()
        else:
            self._on_change(message.split(" "))

    def _fail(self, exc: BaseException) -> None:
        self._trusted_until = 0.0
        self._broken = exc
        self._on_reset()
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            logger.warning(
                "%s unavailable (%s: %s); authenticating from the database.", self.label, exc.__class__.__name__, exc
            )

    def _safe_disconnect(self) -> None:
        try:
            self._disconnect()
        except Exception:  # noqa: BLE001 — already broken
            pass

    # -- the fence -------------------------------------------------------------------------
    def fence(self) -> bool:
        """Wait until every listening process has applied what was published before now."""
        return self.wait_for_fence(self._send_fence)

    def wait_for_fence(self, send: Callable[[str], None]) -> bool:
        """
        Make every listening process confirm that it has applied what was sent before now:
        `send(payload)` delivers a fence after the changes; each process answers it once it
        has read everything before it. Returns True when all that may trust their caches
        have answered; False after TRUST seconds otherwise. Either way no process believes a
        stale entry once this returns, because:

        - who must answer is decided when this process reads its *own* fence back: by then it
          has read every heartbeat sent before the fence, so it knows every process whose
          trust comes from one (a process unheard for 2 x TRUST trusts nothing any more);
        - a process whose heartbeats all came before this one subscribed cannot be known:
          its trust ends TRUST seconds after this subscription at the latest, so the fence
          also lasts until then (only in the first seconds after a (re)subscription);
        - one that does not answer within TRUST has heard no echo of a heartbeat sent after
          the fence (the channel is ordered): its trust has ended;
        - when this process cannot ask (its own subscription is down, the fence could not be
          sent), it waits TRUST seconds for the same reason, then returns False (or raises).
        """
        deadline = time.monotonic() + self.TRUST + 0.25
        while not self.trusted():  # to hear the fence and the answers, be subscribed
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        fence_id = uuid.uuid4().hex
        waiting = _Fence()
        self._fences[fence_id] = waiting
        try:
            try:
                send(f"fence:{fence_id}:{self._nonce}")
            except Exception:
                _sleep_until(deadline)
                raise
            answered = waiting.done.wait(max(0.0, deadline - time.monotonic()))
            if answered:  # and nobody it could not hear still trusts its cache
                _sleep_until(min(deadline, self._subscribed_at + self.TRUST + 0.05))
            else:
                _sleep_until(deadline)
            return answered
        finally:
            self._fences.pop(fence_id, None)

    def _own_fence_back(self, waiting: "_Fence") -> None:
        """This process read its own fence (lock held): whom it waits for is known now."""
        now = time.monotonic()
        for nonce in [nonce for nonce, seen in self._peers.items() if now - seen >= 2 * self.TRUST]:
            del self._peers[nonce]
        waiting.expected = set(self._peers) - waiting.answered
        if not waiting.expected:
            waiting.done.set()

    def close(self) -> None:
        """Stop the thread and close the connections (this process's own only)."""
        self._stop.set()
        self._trusted_until = 0.0
        if self._pid == os.getpid() and self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(2)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def health(self) -> str:
        return "disabled"
