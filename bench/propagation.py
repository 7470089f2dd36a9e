#!/usr/bin/env python3
"""
Revocation propagation between two server processes, as the session cache sees it.

A *listener* process caches N live sessions (as a worker does after serving them) and then
polls its cache the way a request does (`live_user`, which first reads whatever the bus
delivered); an *ender* process ends the sessions one by one with `sessions.end_sessions()`
(the logout path), noting the time right after each commit. Propagation = the moment the
listener stops answering a session from memory minus that commit time (same host, same
clock). Prints one JSON line: {"bus", "n", "p50_ms", "p99_ms", "max_ms"}.

Run with authgate's Python and the service's environment (DATABASE_URL, REDIS_URL...), on a
migrated database: `bench/run.py` does it for each authgate configuration.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def setup():
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    import django

    django.setup()


def listener(sids, user_id):
    from django.contrib.auth import get_user_model

    from authgate.revocation import get_store

    store = get_store()
    deadline = time.monotonic() + 30
    while store.snapshot() is None:  # subscribed and echoed
        if time.monotonic() > deadline:
            raise SystemExit("listener: the bus never became trusted")
        time.sleep(0.01)
    user = get_user_model().objects.get(pk=user_id)
    for sid in sids:
        store.remember(store.snapshot(), sid, str(user_id), user)
        assert store.live_user(sid, str(user_id)) is not None
    print("ready", flush=True)
    dropped = []
    for sid in sids:
        while store.live_user(sid, str(user_id)) is not None:
            time.sleep(0.00005)
        dropped.append(time.time())
    print(json.dumps(dropped), flush=True)


def ender(sids):
    import uuid

    from django.db import transaction

    from authgate.models import Session
    from authgate.sessions import LOGOUT, end_sessions

    committed = []
    for sid in sids:
        with transaction.atomic():
            # Registered first, so it runs right after the commit, before the publication.
            transaction.on_commit(lambda: committed.append(time.time()))
            end_sessions(Session.objects.filter(pk=uuid.UUID(hex=sid)), LOGOUT)
        time.sleep(0.005)
    print(json.dumps(committed), flush=True)


def make_sessions(n):
    from django.contrib.auth import get_user_model

    from authgate.sessions import open_session

    user, _ = get_user_model().objects.get_or_create(username="propagation", defaults={"email": "p@example.com"})
    return [open_session(user)[0].id.hex for _ in range(n)], user.pk


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("listener", "ender"):
        setup()
        args = json.loads(sys.stdin.readline())
        if sys.argv[1] == "listener":
            listener(args["sids"], args["user_id"])
        else:
            ender(args["sids"])
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    setup()
    from authgate.revocation import get_store

    store = get_store()
    bus = type(getattr(store, "bus", store)).__name__
    sids, user_id = make_sessions(n)
    store.close()
    from django.db import connections

    connections.close_all()
    me = [sys.executable, __file__]
    args = json.dumps({"sids": sids, "user_id": user_id}) + "\n"
    listen = subprocess.Popen(me + ["listener"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    listen.stdin.write(args)
    listen.stdin.flush()
    if listen.stdout.readline().strip() != "ready":
        raise SystemExit("listener failed")
    end = subprocess.run(me + ["ender"], input=args, capture_output=True, text=True, timeout=300, check=True)
    committed = json.loads(end.stdout.strip().splitlines()[-1])
    dropped = json.loads(listen.stdout.readline())
    listen.wait(30)
    delays = sorted(max(0.0, d - c) * 1000 for d, c in zip(dropped, committed))
    pick = lambda q: round(delays[min(len(delays) - 1, int(q * len(delays)))], 3)  # noqa: E731
    print(
        json.dumps(
            {"bus": bus, "n": len(delays), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(delays[-1], 3)}
        )
    )


if __name__ == "__main__":
    main()
