"""
Usernames that look alike (the same Unicode TR39 skeleton, from Unicode's confusables data)
are refused at registration and on a rename, with the answer a taken username gets: 400 on
`username`. REFUSE_CONFUSABLE_USERNAMES turns it off. The skeletons are rows of one UNIQUE
column, so concurrent registrations of two lookalike names let exactly one in. This module
runs in every database pass of `make test` (SQLite and PostgreSQL).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection
from django.test import override_settings
from rest_framework.test import APIClient

from authgate import identity
from authgate import names
from authgate.models import NameSkeleton

pytestmark = pytest.mark.django_db
User = get_user_model()
TAKEN = {"username": ["A user with that username already exists."]}
PASSWORD = "A-fine-passphrase-77"
OFF = override_settings(AUTHGATE={**settings.AUTHGATE, "REFUSE_CONFUSABLE_USERNAMES": False})


def register(client, username, email=None):
    return client.post(
        "/api/auth/register/",
        {"username": username, "email": email or f"{username.encode().hex()}@example.com", "password": PASSWORD},
        format="json",
    )


LOOKALIKES = [
    ("secadmin", "secadmın"),  # dotless ı
    ("secadmın", "secadmin"),  # and the other way round
    ("paypal", "раураl"),  # Cyrillic а, р, у
    ("scope", "ѕсоре"),  # all Cyrillic
    ("alpha", "αlpha"),  # Greek alpha
    ("google", "g00gle"),  # zeros for o
    ("paypal", "PAYPA1"),  # a one for an l, in capitals
    ("bill", "biII"),  # capital I for l
    ("arnold", "amold"),  # rn for m
    ("nina", "𝐧𝐢𝐧𝐚"),  # mathematical bold letters (one login name, too)
]


@pytest.mark.parametrize(("first", "second"), LOOKALIKES)
def test_a_name_that_looks_like_a_taken_one_is_refused_at_registration(api_client, first, second):
    assert register(api_client, first).status_code == 201
    response = register(api_client, second)
    assert response.status_code == 400 and response.json() == TAKEN, response.content
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("iris", "İRİS"),  # Turkish İ keeps its dot
        ("kim", "klm"),
        ("user1", "user2"),
        ("anna", "hanna"),
        ("mary", "marie"),
    ],
)
def test_names_that_do_not_look_alike_register_side_by_side(api_client, first, second):
    assert register(api_client, first).status_code == 201
    assert register(api_client, second).status_code == 201


def test_emails_are_not_compared_by_look(api_client):
    """Two addresses are two mailboxes however alike they look: only usernames are guarded."""
    assert register(api_client, "first", "iris@example.com").status_code == 201
    assert register(api_client, "second", "ırıs@example.com").status_code == 201


def test_the_setting_turns_the_refusal_off_and_the_first_name_keeps_its_look(api_client):
    assert register(api_client, "secadmin").status_code == 201
    with OFF:
        assert register(api_client, "secadmın").status_code == 201
    # On again: the first account's look was kept throughout, so a third lookalike is refused.
    assert register(api_client, "ѕecadmin").json() == TAKEN
    assert set(NameSkeleton.objects.values_list("user__username", flat=True)) == {"secadmin"}


def test_a_rename_to_a_lookalike_is_refused(make_user):
    make_user("secadmin")
    other = make_user("mallory")
    other.username = "secadmın"
    with pytest.raises(identity.NameTaken):
        other.save()
    other.refresh_from_db()
    assert other.username == "mallory"


def test_an_account_may_take_a_lookalike_of_its_own_name(make_user):
    user = make_user("secadmin")
    for name in ("SecAdmin", "secadmın", "secadmin"):
        user.username = name
        user.save()
    assert set(NameSkeleton.objects.values_list("user_id", flat=True)) == {user.pk}


def test_a_rename_or_a_deletion_frees_the_old_look(api_client, make_user):
    user = make_user("secadmin")
    user.username = "operator"
    user.save()
    assert register(api_client, "secadmın").status_code == 201
    User.objects.get(username="operator").delete()
    assert register(api_client, "0perator").status_code == 201


def test_the_serializer_check_and_the_model_agree(make_user):
    make_user("secadmin")
    assert identity.username_taken("SECADMİN") is False  # dotted İ: another look
    assert identity.username_taken("secadmın") is True
    with OFF:
        assert identity.username_taken("secadmın") is False
        assert identity.username_taken("SecAdmin") is True  # the same name stays taken


def test_the_unique_column_refuses_a_lookalike_that_slipped_past_the_check(make_user):
    """What settles a race is the database: a second account that holds no skeleton (it
    registered while the setting was off) cannot be given the first one's."""
    make_user("secadmin")
    with OFF:
        twin = make_user("secadmın")
    assert not NameSkeleton.objects.filter(user=twin).exists()
    with pytest.raises(IntegrityError):
        identity.sync(twin)


def test_existing_accounts_get_their_skeletons_oldest_first(make_user):
    older, newer = make_user("secadmin"), make_user("other")
    User.objects.filter(pk=newer.pk).update(username="secadmın")  # bypasses save(): no rows
    NameSkeleton.objects.all().delete()
    assert identity.rebuild_skeletons() == 1
    assert identity.rebuild_skeletons() == 0  # safe to re-run
    assert set(NameSkeleton.objects.values_list("user_id", flat=True)) == {older.pk}


def race(usernames):
    """One thread per name, each with its own client and database connection, released
    together."""
    barrier = threading.Barrier(len(usernames))

    def one(username):
        try:
            client = APIClient()
            barrier.wait()
            return username, register(client, username)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(usernames)) as pool:
        return list(pool.map(one, usernames))


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_lookalike_names_let_exactly_one_in():
    names_ = ["secadmin", "secadmın", "sеcadmin", "secаdmin", "seсadmin", "secadrnin", "ѕecadmin", "secadmіn"]
    results = race(names_)
    won = [name for name, response in results if response.status_code == 201]
    assert len(won) == 1, [(name, response.status_code, response.content) for name, response in results]
    for name, response in results:
        if name not in won:
            assert response.status_code == 400 and response.json() == TAKEN, response.content
    assert list(User.objects.values_list("username", flat=True)) == won
    assert set(NameSkeleton.objects.values_list("user__username", flat=True)) == set(won)


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_two_lookalike_names_let_exactly_one_in():
    for round_ in range(5):
        first, second = f"admin{round_}", f"admın{round_}"
        won = [name for name, response in race([first, second]) if response.status_code == 201]
        assert len(won) == 1, won
    assert User.objects.count() == 5


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        ("secadmın", "secadmin", True),
        ("Straße", "STRASSE", True),  # one login name: the folded skeleton is shared
        ("ａｌｉｃｅ", "alice", True),
        ("раураl", "paypal", True),
        ("g00gle", "Google", True),
        ("biII", "bill", True),
        ("ﬁle", "file", True),
        ("ΣΊΣΥΦΟΣ", "σίσυφος", True),
        ("İRİS", "iris", False),
        ("anna", "hanna", False),
        ("", "", False),
    ],
)
def test_names_look_alike_when_their_skeletons_meet(a, b, alike):
    assert bool(names.lookalikes(a) & names.lookalikes(b)) is alike


def test_the_mapping_is_unicodes_confusables_data():
    mapping = names.prototypes()
    assert len(mapping) > 6000
    assert mapping["ı"] == "i" and mapping["а"] == "a" and mapping["ſ"] == "f"
    assert mapping["m"] == "rn" and mapping["0"] == "O" and mapping["1"] == "l" and mapping["I"] == "l"
    # A prototype is never itself mapped: one pass of the mapping is a skeleton.
    assert not [char for prototype in mapping.values() for char in prototype if char in mapping]
    assert names.skeleton("secadmın") == "secadrnin"
