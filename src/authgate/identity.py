"""
Canonical identities: one login name belongs to one account.

A name's canonical form is Unicode NFKC plus case folding (`canonical()`), so `Alice`,
`alice`, `ａｌｉｃｅ` (full width) and `ＡＬＩＣＥ` are one name, and `ſecadmin` (long s) is
`secadmin`. Every account's canonical username and canonical email are rows of one
`LoginKey` table with a UNIQUE key, kept in step with the user on every save (the
`pre_save`/`post_save` receivers in `authgate.signals`). So, atomically on every database:

- two accounts cannot have names that differ only by case or width, nor the same email
  in any case;
- no account's username can be another account's email (nor the reverse), so an email
  always logs in the account that has it as its email.

Usernames that look alike (the same Unicode TR39 skeleton, `names.lookalikes()`:
`secadmın` beside `secadmin`, a Cyrillic `а` for a Latin `a`) are refused the same way
when REFUSE_CONFUSABLE_USERNAMES is on (the default): each username's skeletons are rows
of the `NameSkeleton` table, whose UNIQUE column settles concurrent registrations. The
rows are kept with the setting off too (a name that looks like an older one's then gets
none), so turning it on later guards every account.

`resolve()` is the one answer to "which account does this login name mean?", used by the
authentication backend and the login throttle alike. An exact username match wins (so
accounts that predate these rules and differ only by case keep logging in as before; the
`authgate.W001` system check lists them), then the canonical key.

Works with any user model: only `get_user_model()`, `USERNAME_FIELD` and the email field
(`get_email_field_name()`, if the model has one) are used. `QuerySet.update()` and raw SQL
that change a username or email bypass `save()` and leave the keys stale (see SECURITY.md);
saving the user again rebuilds them.
"""

import hashlib
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Model

from . import names
from .names import fold
from .models import LoginKey, NameSkeleton
from .conf import api_settings
from .types import User

KEY_LENGTH = cast(int, LoginKey._meta.get_field("key").max_length)  # a CharField's: always set


def _stored(value: str) -> str:
    """`value` as a key column holds it: hashed when longer than the column."""
    if len(value) > KEY_LENGTH:
        return "#" + hashlib.sha256(value.encode()).hexdigest()
    return value


def canonical(value: object) -> str:
    """The canonical form of a login name: NFKC, case-folded, NFKC again (folding can
    produce characters that compose); hashed when longer than the key column."""
    return _stored(fold(value))


def skeletons(value: object) -> set[str]:
    """The skeletons of a username as `NameSkeleton` rows hold them (`names.lookalikes`)."""
    return {_stored(skeleton) for skeleton in names.lookalikes(value)} if value else set()


def email_field_name(user_model: type[User] | None = None) -> str | None:
    """The user model's email field, or None when it has none."""
    user_model = user_model or get_user_model()
    name = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return name


def identity_fields(user_model: type[User] | None = None) -> set[str]:
    """The fields whose values are login names: the username field and the email field."""
    user_model = user_model or get_user_model()
    email = email_field_name(user_model)
    return {user_model.USERNAME_FIELD} if email is None else {user_model.USERNAME_FIELD, email}


def lookalike_field(user_model: type[User] | None = None) -> str | None:
    """The field whose look is guarded: the username field, unless it is the email field
    (distinct addresses are distinct mailboxes, however alike they look)."""
    user_model = user_model or get_user_model()
    field = user_model.USERNAME_FIELD
    return None if field == email_field_name(user_model) else field


def skeletons_for(user: User) -> set[str]:
    """The skeletons of `user`'s username (none when the username is the email)."""
    field = lookalike_field(type(user))
    return skeletons(getattr(user, field, None)) if field else set()


def keys_for(user: User) -> set[str]:
    """The canonical login keys of `user` (its username and email; blanks skipped)."""
    values = (getattr(user, field, None) for field in identity_fields(type(user)))
    return {canonical(value) for value in values if value}


def holder_id(value: object) -> Any:
    """The pk of the account that holds `value` as a login name, or None."""
    return LoginKey.objects.filter(key=canonical(value)).values_list("user_id", flat=True).first()


def account_with_email(address: str | None) -> User | None:
    """The account whose email is `address` (any case or width, as login names compare),
    or None: the one lookup of an account by its address (password reset, login by email).
    Found through the canonical key, never by a database's own case-insensitive match."""
    if not address:
        return None
    field = email_field_name()
    if field is None:
        return None
    user = get_user_model()._default_manager.filter(authgate_login_keys__key=canonical(address)).first()
    if user is None or canonical(getattr(user, field, "") or "") != canonical(address):
        return None  # the name is that account's username, not its email
    return user


def taken(value: object, user: User | None = None) -> bool:
    """True when `value` is a login name of another account than `user`."""
    if not value:
        return False
    holder = holder_id(value)
    return holder is not None and (user is None or holder != user.pk)


def lookalike_holder_id(value: object, user: User | None = None) -> Any:
    """The pk of an account other than `user` whose username looks like `value`, or None."""
    rows = NameSkeleton.objects.filter(skeleton__in=skeletons(value))
    if user is not None and user.pk is not None:
        rows = rows.exclude(user_id=user.pk)
    return rows.values_list("user_id", flat=True).first()


def username_taken(value: object, user: User | None = None) -> bool:
    """True when `value` cannot be `user`'s username (a new account's when None): another
    account holds it as a login name or, with REFUSE_CONFUSABLE_USERNAMES, has a username
    that looks the same."""
    if taken(value, user):
        return True
    return bool(value) and api_settings.REFUSE_CONFUSABLE_USERNAMES and lookalike_holder_id(value, user) is not None


def resolve(name: str | None) -> User | None:
    """The account a login name means: an exact username match, else the account holding
    the canonical key (by username or email, any case or width); None when none does."""
    if not name:
        return None
    user_model = get_user_model()
    manager = user_model._default_manager
    user = manager.filter(**{user_model.USERNAME_FIELD: name}).first()
    if user is None:
        user = manager.filter(authgate_login_keys__key=canonical(name)).first()
    return user


class NameTaken(IntegrityError):
    """A save would give an account a login name that another account holds; `field` names
    the user model's field that holds it (None when unknown)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_available(user: User) -> None:
    """Raise NameTaken if one of `user`'s login names is held by another account, or (with
    REFUSE_CONFUSABLE_USERNAMES) its username looks like another account's — before a
    save, so that nothing is written; the UNIQUE columns settle races."""
    keys = keys_for(user)
    if keys:
        clash = LoginKey.objects.filter(key__in=keys)
        if user.pk is not None:
            clash = clash.exclude(user_id=user.pk)
        key = clash.values_list("key", flat=True).first()
        if key is not None:
            holding = [f for f in identity_fields(type(user)) if canonical(getattr(user, f, None) or "") == key]
            raise NameTaken(f"The login name {key!r} belongs to another account.", holding[0] if holding else None)
    field = lookalike_field(type(user))
    if field and api_settings.REFUSE_CONFUSABLE_USERNAMES and lookalike_holder_id(getattr(user, field), user):
        raise NameTaken(f"The username {getattr(user, field)!r} looks like another account's.", field)


def sync(user: User) -> None:
    """Make `user`'s LoginKey rows its current login names, and its NameSkeleton rows its
    username's skeletons (after a save). Raises IntegrityError, changing nothing, if another
    account holds one of them (a skeleton only with REFUSE_CONFUSABLE_USERNAMES: with it
    off, a skeleton another account holds is left to that account)."""
    wanted = keys_for(user)
    looks = skeletons_for(user)
    with transaction.atomic():
        have = dict(LoginKey.objects.filter(user_id=user.pk).values_list("key", "pk"))
        stale = [pk for key, pk in have.items() if key not in wanted]
        if stale:
            LoginKey.objects.filter(pk__in=stale).delete()
        LoginKey.objects.bulk_create([LoginKey(key=key, user_id=user.pk) for key in wanted - have.keys()])
        have = dict(NameSkeleton.objects.filter(user_id=user.pk).values_list("skeleton", "pk"))
        stale = [pk for skeleton, pk in have.items() if skeleton not in looks]
        if stale:
            NameSkeleton.objects.filter(pk__in=stale).delete()
        NameSkeleton.objects.bulk_create(
            [NameSkeleton(skeleton=skeleton, user_id=user.pk) for skeleton in looks - have.keys()],
            ignore_conflicts=not api_settings.REFUSE_CONFUSABLE_USERNAMES,
        )


def rebuild(
    user_model: type[Model] | None = None, key_model: type[Model] | None = None, write: bool = True
) -> list[tuple[Any, str, str, Any]]:
    """Give every account the keys it can have, oldest account first, and return the
    clashes: (pk, field, value, pk of the account holding that name) for each name an
    account cannot have because an older account holds it. Used by the migration that
    introduced the keys and by the `authgate.W001` check (`write=False`); safe to re-run."""
    user_model = user_model or get_user_model()
    key_model = key_model or LoginKey
    fields = sorted(identity_fields(get_user_model()))
    held = dict(key_model._default_manager.values_list("key", "user_id"))
    clashes, new = [], []
    for row in user_model._default_manager.order_by("pk").values("pk", *fields).iterator(chunk_size=2000):
        for field in fields:
            if not row[field]:
                continue
            key = canonical(row[field])
            if key not in held:
                held[key] = row["pk"]
                new.append(key_model(key=key, user_id=row["pk"]))
            elif held[key] != row["pk"]:
                clashes.append((row["pk"], field, row[field], held[key]))
    if write:
        key_model._default_manager.bulk_create(new, batch_size=1000)
    return clashes


def rebuild_skeletons(user_model: type[Model] | None = None, skeleton_model: type[Model] | None = None) -> int:
    """Give every account the skeleton rows of its username, oldest account first (a name
    that looks like an older account's gets none, and keeps logging in); returns how many
    rows were written. Used by the migration that introduced them; safe to re-run."""
    field = lookalike_field(get_user_model())
    if field is None:
        return 0
    user_model = user_model or get_user_model()
    skeleton_model = skeleton_model or NameSkeleton
    held = set(skeleton_model._default_manager.values_list("skeleton", flat=True))
    new = []
    for row in user_model._default_manager.order_by("pk").values("pk", field).iterator(chunk_size=2000):
        for skeleton in skeletons(row[field]) - held:
            held.add(skeleton)
            new.append(skeleton_model(skeleton=skeleton, user_id=row["pk"]))
    skeleton_model._default_manager.bulk_create(new, batch_size=1000)
    return len(new)
