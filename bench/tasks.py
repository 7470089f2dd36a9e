#!/usr/bin/env python3
"""
The bench's work inside a server's project: users, sessions, row counts, versions.

Run by bench/run.py with the server's own Python, working directory and environment
(DJANGO_SETTINGS_MODULE, DATABASE_URL...), so that the same module serves authgate, a
baseline revision of it and the reference servers:

    python bench/tasks.py TASK '{"json": "arguments"}'

It prints one line `RESULT <json>` (the last line of its output). Tasks:

  versions       package versions of this interpreter (no Django set-up)
  create-users   {password, names}: (re)create active users sharing one Argon2 hash
  mint-refresh   {kind, names, count}: refresh tokens of `count` new sessions, opened the way
                 login opens them after the password check (no Argon2 per session)
  mint-access    {kind, names, count}: access tokens of `count` new sessions
  mint-pairs     {kind, names, count}: [access, refresh] of `count` new sessions
  count-rows     {username, prefixes}: stored rows for one user ("*": all users) in every
                 table with the given prefixes that has a user_id column or a foreign key
                 to such a table; Django's `django_session` (where allauth keeps its
                 sessions and refresh-token state) by decoding each session
  bulk-sessions  {users, sessions, tokens_file}: `users` users (one shared Argon2 hash) and
                 `sessions` live authgate sessions spread over them, inserted with
                 bulk_create; their access tokens written to `tokens_file`, one a line
  bulk-access    {sessions, lifetime, tokens_file}: simplejwt's access tokens
                 (AccessToken.for_user, valid `lifetime` s) for the users bulk-sessions made,
                 the n-th for the n-th session's user, written to `tokens_file` in that order
  dead-sessions  {count}: `count` authgate sessions past their SESSION_MAX_AGE (half of
                 them also ended), inserted by the database itself (INSERT ... SELECT over
                 generate_series; PostgreSQL) for the bench users
  table-sizes    {prefixes}: after VACUUM ANALYZE, rows and bytes (heap, each index, total)
                 of every table with the given prefixes (PostgreSQL)

`kind` is "authgate", "simplejwt" or "allauth". Invariant: it changes nothing but the bench users and
their sessions in the database named by the environment.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

PACKAGES = (
    "Django",
    "djangorestframework",
    "djangorestframework-simplejwt",
    "django-allauth",
    "authgate",
    "gunicorn",
    "psycopg",
    "argon2-cffi",
    "PyJWT",
    "redis",
    "dj-database-url",
)


def versions() -> dict[str, str]:
    import importlib.metadata as metadata

    out = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _setup_django() -> None:
    sys.path.insert(0, os.getcwd())  # the project being benchmarked (its settings module)
    import django

    django.setup()


def create_users(password: str, names: list[str]) -> list[str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    digest = make_password(password)  # hashed once (Argon2), shared by every bench user
    for name in names:
        user_model.objects.filter(username=name).delete()
        user_model(username=name, email=name + "@bench.invalid", password=digest, is_active=True).save()
    return sorted(user_model.objects.filter(username__in=names).values_list("username", flat=True))


def _users(names: list[str]) -> list[Any]:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(username__in=names))


def _allauth_session(user: Any) -> Any:
    """A Django session logged in as `user`, stored: what allauth's login leaves behind
    for the JWT strategy after the password check."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = "allauth.account.auth_backends.AuthenticationBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store


def mint_pairs(kind: str, names: list[str], count: int) -> list[list[str]]:
    """[access, refresh] of `count` new sessions, opened the way each server's login opens
    them after the password check (no Argon2 per session)."""
    users = _users(names)
    out: list[list[str]] = []
    for i in range(count):
        user = users[i % len(users)]
        if kind == "authgate":
            from authgate.sessions import open_session

            pair = open_session(user, device="bench")[1]
            out.append([pair.access, pair.refresh])
        elif kind == "allauth":
            from allauth.headless.tokens.strategies.jwt import internal

            session = _allauth_session(user)
            refresh = internal.create_refresh_token(user, session)
            access = internal.create_access_token(user, session, {})
            session.save()
            out.append([access, refresh])
        else:
            from rest_framework_simplejwt.tokens import RefreshToken

            token = RefreshToken.for_user(user)
            out.append([str(token.access_token), str(token)])
    return out


def mint_refresh(kind: str, names: list[str], count: int) -> list[str]:
    return [refresh for _, refresh in mint_pairs(kind, names, count)]


def mint_access(kind: str, names: list[str], count: int) -> list[str]:
    return [access for access, _ in mint_pairs(kind, names, count)]


def _django_sessions_of(uid: Any) -> int:
    """Live rows of django_session logged in as `uid` (None: all of them)."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session as DjangoSession

    rows = DjangoSession.objects.all()
    if uid is None:
        return rows.count()
    return sum(1 for row in rows.iterator() if row.get_decoded().get(SESSION_KEY) == str(uid))


def count_rows(username: str, prefixes: list[str]) -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    uid = None if username == "*" else get_user_model().objects.get(username=username).pk
    intro = connection.introspection
    qn = connection.ops.quote_name
    out: dict[str, int] = {}
    with connection.cursor() as cursor:
        tables = [t for t in intro.table_names(cursor) if t.startswith(tuple(prefixes))]
        columns = {t: [d.name for d in intro.get_table_description(cursor, t)] for t in tables}
        for table in tables:
            if table == "django_session":
                out[table] = _django_sessions_of(uid)
                continue
            params: list[Any] = []
            where = ""
            if "user_id" in columns[table]:
                if uid is not None:
                    where, params = " WHERE user_id = %s", [uid]
            else:
                relations = intro.get_relations(cursor, table)
                link = next(
                    (
                        (column, other)
                        for column, (_, other) in relations.items()
                        if other in columns and "user_id" in columns[other]
                    ),
                    None,
                )
                if link is None:
                    continue
                column, other = link
                if uid is not None:
                    where = f" WHERE {qn(column)} IN (SELECT id FROM {qn(other)} WHERE user_id = %s)"
                    params = [uid]
            cursor.execute(f"SELECT COUNT(*) FROM {qn(table)}" + where, params)
            out[table] = cursor.fetchone()[0]
    return out


def bulk_sessions(users: int, sessions: int, tokens_file: str) -> dict[str, int]:
    import uuid

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from authgate.models import Session
    from authgate.settings import api_settings
    from authgate.tokens import get_codec

    user_model = get_user_model()
    digest = make_password("scale-" + "p" * 20)
    names = [f"scale{i:06d}" for i in range(users)]
    user_model.objects.bulk_create(
        [user_model(username=n, email=n + "@bench.invalid", password=digest) for n in names], batch_size=5000
    )
    people = list(user_model.objects.filter(username__in=names).order_by("pk"))
    codec = get_codec()
    now = timezone.now()
    issued_at = int(now.timestamp())
    written = 0
    with open(tokens_file, "w") as out:
        for start in range(0, sessions, 5000):
            rows = [
                Session(
                    id=uuid.uuid4(),
                    user=people[i % len(people)],
                    device="scale",
                    amr="pwd",
                    auth_time=now,
                    created_at=now,
                    last_used_at=now,
                    expires_at=now + api_settings.SESSION_MAX_AGE,
                    generation=1,
                    issued_at=issued_at,
                )
                for i in range(start, min(start + 5000, sessions))
            ]
            Session.objects.bulk_create(rows)
            out.write("".join(codec.access_for(row) + "\n" for row in rows))
            written += len(rows)
    return {"users": len(people), "sessions": written}


def bulk_access(sessions: int, lifetime: int, tokens_file: str) -> dict[str, int]:
    """The simplejwt reference's side of bulk-sessions: one access token per authgate
    session, for the same user, signed by simplejwt itself (its SIGNING_KEY, its claims)."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    people = list(get_user_model().objects.filter(username__regex=r"^scale[0-9]+$").order_by("pk"))
    with open(tokens_file, "w") as out:
        for i in range(sessions):
            token = AccessToken.for_user(people[i % len(people)])
            token.set_exp(lifetime=timedelta(seconds=lifetime))
            out.write(f"{token}\n")
    return {"users": len(people), "tokens": sessions}


def dead_sessions(count: int) -> dict[str, int]:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from authgate.models import Session

    qn = connection.ops.quote_name
    column = {f.name: qn(f.column) for f in Session._meta.concrete_fields}
    user_table = qn(get_user_model()._meta.db_table)
    long_ago = timezone.now() - timedelta(days=400)
    # The bench users in turn (n-th session -> n-th user modulo their number), picked from
    # an array: a join on `n % count` would be a nested loop over every user per row.
    sql = f"""
        WITH people AS (SELECT array_agg(id ORDER BY id) AS ids FROM {user_table} WHERE username LIKE 'scale%%')
        INSERT INTO {qn(Session._meta.db_table)}
            ({column["id"]}, {column["user"]}, {column["device"]}, {column["user_agent"]},
             {column["created_at"]}, {column["last_used_at"]}, {column["expires_at"]},
             {column["generation"]}, {column["issued_at"]}, {column["ended_at"]},
             {column["end_reason"]}, {column["amr"]}, {column["auth_time"]})
        SELECT gen_random_uuid(), people.ids[1 + n %% cardinality(people.ids)], 'dead', '', %s, %s, %s, 7, %s,
               CASE WHEN n %% 2 = 0 THEN %s::timestamptz END,
               CASE WHEN n %% 2 = 0 THEN 'logout' ELSE '' END, 'pwd', %s
        FROM generate_series(0, %s - 1) AS n, people
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                long_ago,
                long_ago,
                long_ago + timedelta(days=30),
                int(long_ago.timestamp()),
                long_ago,
                long_ago,
                count,
            ],
        )
        inserted = cursor.rowcount
    return {"inserted": inserted}


def table_sizes(prefixes: list[str]) -> dict[str, dict[str, Any]]:
    from django.db import connection

    out: dict[str, dict[str, Any]] = {}
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t.startswith(tuple(prefixes))]
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            rows = cursor.fetchone()[0]
            cursor.execute(
                "SELECT pg_relation_size(%s::regclass), pg_indexes_size(%s::regclass), "
                "pg_total_relation_size(%s::regclass)",
                [table, table, table],
            )
            heap, indexes, total = cursor.fetchone()
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                "WHERE indrelid = %s::regclass ORDER BY 1",
                [table],
            )
            out[table] = {
                "rows": rows,
                "heap": heap,
                "indexes": indexes,
                "total": total,
                "index_sizes": dict(cursor.fetchall()),
            }
    return out


TASKS: dict[str, Callable[..., Any]] = {
    "create-users": create_users,
    "mint-refresh": mint_refresh,
    "mint-access": mint_access,
    "mint-pairs": mint_pairs,
    "count-rows": count_rows,
    "bulk-sessions": bulk_sessions,
    "bulk-access": bulk_access,
    "dead-sessions": dead_sessions,
    "table-sizes": table_sizes,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or (argv[1] not in TASKS and argv[1] != "versions"):
        sys.exit(f"usage: {argv[0]} {{versions,{','.join(TASKS)}}} [JSON arguments]")
    task = argv[1]
    kwargs = json.loads(argv[2]) if len(argv) > 2 else {}
    if task == "versions":
        result: Any = versions()
    else:
        _setup_django()
        result = TASKS[task](**kwargs)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
