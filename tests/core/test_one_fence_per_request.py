"""
However many sessions and users one request changes, the other processes are told and
waited for once, after everything has committed: a password change (the user's row saved,
then the other sessions ended) publishes one message batch and waits on one fence, not two.
A change rolled back publishes nothing. A block that gathers more than MAX_MESSAGES keeps
one FLUSH instead (bounded memory); the session purge, batch after batch, is one such block.

The bus is the real same-host SQLite bus, counted: its publications and fences are recorded
on the way through, and still do what they do.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from authgate import revocation, sessions
from authgate.models import Session
from authgate.revocation.messages import MAX_MESSAGES
from authgate.revocation import CachingRevocationStore, FileBus
from authgate.revocation.process import reset_store

from ..conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db(transaction=True)


class CountedFileBus(FileBus):
    def __init__(self, path):
        super().__init__(path)
        self.published = []
        self.fences = 0

    def publish(self, messages):
        self.published.append(list(messages))
        return super().publish(messages)

    def fence(self):
        self.fences += 1
        return super().fence()


@pytest.fixture
def bus(tmp_path, monkeypatch):
    bus = CountedFileBus(str(tmp_path / "revocations"))
    monkeypatch.setattr(revocation.process, "_store", CachingRevocationStore(bus))
    yield bus
    reset_store()


def test_a_password_change_publishes_once_and_waits_on_one_fence(api_client, user, tokens_for, bus):
    current = tokens_for(user, device="laptop")
    other = tokens_for(user, device="phone")
    bus.published.clear()
    bus.fences = 0

    response = api_client.post(
        "/api/auth/password/change/",
        {"old_password": PASSWORD, "new_password": "n3w-Passphrase!"},
        format="json",
        **bearer(current["access"]),
    )

    assert response.status_code == 200 and response.json()["sessions_ended"] == 1
    assert bus.fences == 1
    assert len(bus.published) == 1
    (batch,) = bus.published
    assert f"u:{user.pk}" in batch and f"s:{other['session_id'].replace('-', '')}" in batch


def test_a_logout_everywhere_waits_on_one_fence(api_client, user, tokens_for, bus):
    current = tokens_for(user)
    for device in ("phone", "tablet"):
        tokens_for(user, device=device)
    bus.fences = 0
    response = api_client.post("/api/auth/logout/all/", **bearer(current["access"]))
    assert response.status_code in (200, 204)
    assert bus.fences == 1


def test_a_rolled_back_change_publishes_nothing(user, bus):
    store = revocation.get_store()
    with store.one_fence():
        with pytest.raises(RuntimeError), transaction.atomic():
            store.changed([f"u:{user.pk}"])
            raise RuntimeError("rolled back")
    assert bus.published == [] and bus.fences == 0


def test_a_block_gathering_more_than_max_messages_publishes_one_flush(bus):
    store = revocation.get_store()
    with store.one_fence():
        for _ in range(3):
            with transaction.atomic():
                store.changed([f"s:{uuid.uuid4().hex}" for _ in range(MAX_MESSAGES // 2 + 1)])
    assert bus.published == [[revocation.FLUSH]] and bus.fences == 1


def test_the_purge_tells_the_caches_once_whatever_its_batches(user, bus):
    dead = [sessions.open_session(user, device="dead")[0] for _ in range(7)]
    sessions.open_session(user, device="live")
    Session.objects.filter(device="dead").update(expires_at=timezone.now() - timedelta(hours=1))
    bus.published.clear()
    bus.fences = 0

    assert sessions.purge(batch=3) == 7

    assert bus.fences == 1
    assert bus.published == [[f"s:{s.pk.hex}" for s in sorted(dead, key=lambda s: s.pk)]]
    assert list(Session.objects.values_list("device", flat=True)) == ["live"]
