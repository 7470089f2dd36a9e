#!/usr/bin/env python3
"""
Concurrent password guessing against real gunicorn processes: how many guesses are
*checked* (401) and how many refused (429) when they all arrive at once.

Starts two gunicorn servers (two workers each, the `make run` command line) on one fresh
database — a SQLite file (default) or a throw-away PostgreSQL database (--postgres),
optionally with Redis as the cache (--redis-url) — registers an account, then sends, released
together by a barrier and spread over both servers:

  one-name   N wrong passwords for that one username from one IP   (limit: LOGIN_THROTTLE USER_IP, 5)
  one-ip     M wrong passwords, each for a different username       (limit: LOGIN_THROTTLE IP, 50)

and prints the status counts. Exit status 1 when more guesses were checked than the
limit allows. Usage:

    .venv/bin/python bench/guessing.py [--postgres] [--redis-url redis://127.0.0.1:6379/7]
"""

import argparse
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.topology import (  # noqa: E402
    concurrently,
    Gunicorn,
    create_database,
    drop_database,
    manage,
    postgres_url,
    server_environment,
)

PASSWORD = "correct-horse-battery-9"


def guess(servers, username):
    def call(i):
        response = httpx.post(
            f"{servers[i % len(servers)].url}/api/auth/login/",
            json={"username": username(i), "password": f"wrong-{i}"},
            timeout=120,
        )
        return response.status_code

    return call


def _forget_counts(env):
    """Each round starts with no failure counted (every request comes from 127.0.0.1)."""
    try:
        manage(env, "shell", "-c", "from authgate.models import AttemptCounter; AttemptCounter.objects.all().delete()")
    except RuntimeError:
        pass  # a revision without the counter table: its counts live in the cache


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL database")
    parser.add_argument("--redis-url", help="Redis as the cache (and revocation store)")
    parser.add_argument("--same-name", type=int, default=20, help="concurrent guesses at one name")
    parser.add_argument("--same-ip", type=int, default=80, help="concurrent guesses at distinct names")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="authgate-guessing-"))
    dbname = create_database("authgate_guessing") if args.postgres else None
    database_url = postgres_url(dbname) if dbname else f"sqlite:///{tmp / 'db.sqlite3'}"
    env = server_environment(database_url, args.redis_url, AUTHGATE_VAR_DIR=str(tmp))
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    servers = []
    failed = False
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        servers = [Gunicorn(env, workers=2, log_dir=tmp).start() for _ in range(2)]
        victim = f"victim-{uuid.uuid4().hex[:6]}"
        response = httpx.post(
            f"{servers[0].url}/api/auth/register/",
            timeout=60,
            json={"username": victim, "email": f"{victim}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        backend = ("PostgreSQL" if dbname else "SQLite") + (" + Redis" if args.redis_url else "")
        for label, count, limit, name in [
            ("one-name", args.same_name, 5, lambda i: victim),
            ("one-ip", args.same_ip, 50, lambda i: f"nobody-{i}-{uuid.uuid4().hex[:6]}"),
        ]:
            _forget_counts(env)
            statuses = Counter(concurrently(count, guess(servers, name)))
            checked = statuses.get(401, 0)
            print(
                f"{backend:20} {label:8} {count:3} concurrent: {checked:3} checked (401), "
                f"{statuses.get(429, 0):3} throttled (429), other {dict((k, v) for k, v in statuses.items() if k not in (401, 429))}"
                f"  limit {limit}"
            )
            failed |= checked > limit
    finally:
        for server in servers:
            server.stop()
        if dbname:
            drop_database(dbname)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
