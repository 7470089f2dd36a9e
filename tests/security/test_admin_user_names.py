"""The Django admin's user forms ask the one identity lookup, as the API does: a name that
another account holds (in any case or width) or that looks like another account's username
is an error on the form's field, never a server error, and nothing is saved."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

TAKEN = "This name is taken by another account, or looks too much like one."


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    client.raise_request_exception = False
    return client


def change(client, user, **fields):
    data = {
        "username": user.username,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
        **fields,
    }
    return client.post(f"/admin/auth/user/{user.pk}/change/", data)


@pytest.mark.parametrize("name", ["ALICE", "ａｌｉｃｅ", "аlice", "a1ice"])
def test_renaming_a_user_to_a_name_like_another_accounts_is_a_form_error(admin_client, make_user, name):
    make_user("alice")
    bob = make_user("bob")
    answer = change(admin_client, bob, username=name)
    assert answer.status_code == 200
    # Full-width letters fold to `alice` in Django's own field, whose check answers first.
    assert list(answer.context["adminform"].form.errors) == ["username"]
    bob.refresh_from_db()
    assert bob.username == "bob"


def test_giving_a_user_another_accounts_email_in_another_case_is_an_error_on_the_email(admin_client, make_user):
    make_user("alice")
    bob = make_user("bob")
    answer = change(admin_client, bob, email="ALICE@example.com")
    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert list(errors) == ["email"] and errors["email"] == [TAKEN]
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_a_free_name_is_saved(admin_client, make_user):
    bob = make_user("bob")
    assert change(admin_client, bob, username="robert").status_code == 302
    bob.refresh_from_db()
    assert bob.username == "robert"


def test_adding_a_user_whose_name_looks_like_another_accounts_is_a_form_error(admin_client, make_user):
    make_user("secadmin")
    answer = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "secadmın", "password1": "An0ther-good-passphrase", "password2": "An0ther-good-passphrase"},
    )
    assert answer.status_code == 200
    # On PostgreSQL Django's own case-insensitive check (UPPER('ı') is 'I') answers first.
    assert list(answer.context["adminform"].form.errors) == ["username"]
    assert not get_user_model().objects.filter(username="secadmın").exists()


def test_adding_a_user_whose_name_differs_only_by_a_cyrillic_letter_is_refused_by_the_look_alike_check(
    admin_client, make_user
):
    make_user("secadmin")
    answer = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "\u0455ecadmin", "password1": "An0ther-good-passphrase", "password2": "An0ther-good-passphrase"},
    )
    assert answer.status_code == 200
    assert answer.context["adminform"].form.errors == {"username": [TAKEN]}
    assert get_user_model().objects.count() == 2  # the staff user and secadmin
