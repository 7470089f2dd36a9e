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
  count-rows     {username, prefixes}: stored rows for one user ("*": all users) in every
                 table with the given prefixes that has a user_id column or a foreign key
                 to such a table

`kind` is "authgate" or "simplejwt". Invariant: it changes nothing but the bench users and
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


def mint_refresh(kind: str, names: list[str], count: int) -> list[str]:
    users = _users(names)
    if kind == "authgate":
        from authgate.sessions import open_session

        return [open_session(users[i % len(users)], device="bench")[1].refresh for i in range(count)]
    from rest_framework_simplejwt.tokens import RefreshToken

    return [str(RefreshToken.for_user(users[i % len(users)])) for i in range(count)]


def mint_access(kind: str, names: list[str], count: int) -> list[str]:
    users = _users(names)
    if kind == "authgate":
        from authgate.sessions import open_session

        return [open_session(users[i % len(users)], device="spread")[1].access for i in range(count)]
    from rest_framework_simplejwt.tokens import RefreshToken

    return [str(RefreshToken.for_user(users[i % len(users)]).access_token) for i in range(count)]


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


TASKS: dict[str, Callable[..., Any]] = {
    "create-users": create_users,
    "mint-refresh": mint_refresh,
    "mint-access": mint_access,
    "count-rows": count_rows,
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
