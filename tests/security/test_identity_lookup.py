"""
One identity lookup: registration, login by email, password reset, verification and the
mail limits all find accounts through the canonical login key (NFKC + case folding,
computed in Python), so SQLite and PostgreSQL give the same answers for the letters whose
case rules differ between them — the dotless ı, the Turkish İ, the long ſ, the Kelvin
sign K, ß, the Greek final sigma, full-width letters and ligatures. This module runs in
both database passes of `make test`.
"""

import pytest
from django.contrib.auth import get_user_model

from authgate import identity, recovery
from authgate.mail import outbox

from ..conftest import PASSWORD
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
User = get_user_model()


def register(client, username, email):
    return client.post(
        "/api/auth/register/",
        {"username": username, "email": email, "password": "A-fine-passphrase-77"},
        format="json",
    )


def reset(client, email, ip):
    return client.post("/api/auth/password/reset/", {"email": email}, format="json", REMOTE_ADDR=ip)


@pytest.mark.parametrize(
    ("first", "second", "one_name"),
    [
        ("straße", "STRASSE", True),  # ß folds to ss
        ("ΣΊΣΥΦΟΣ", "σίσυφος", True),  # final sigma folds to σ
        ("σίσυφοσ", "ΣΊΣΥΦΟΣ", True),
        ("ａｌｉｃｅ", "Alice", True),  # full width
        ("ﬁle", "file", True),  # ligature
        ("ſam", "SAM", True),  # long s
        ("iris", "IRIS", True),
        ("iris", "İRİS", False),  # Turkish İ folds to i + combining dot: another name
    ],
)
def test_usernames_collide_the_same_way_on_every_database(api_client, first, second, one_name):
    assert register(api_client, first, "first@example.com").status_code == 201
    response = register(api_client, second, "second@example.com")
    if one_name:
        assert response.status_code == 400 and list(response.json()) == ["username"], response.content
    else:
        assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("first", "second", "one_address"),
    [
        ("iris@example.com", "IRIS@EXAMPLE.COM", True),
        ("kim@example.com", "\u212aim@example.com", True),  # the Kelvin sign folds to k
        ("sam@example.com", "ſam@example.com", True),  # long s
        ("iris@example.com", "ırıs@example.com", False),  # dotless ı stays ı
        ("iris@example.com", "İris@example.com", False),  # İ folds to i + combining dot
    ],
)
def test_emails_collide_the_same_way_on_every_database(api_client, first, second, one_address):
    assert register(api_client, "first", first).status_code == 201
    response = register(api_client, "second", second)
    if one_address:
        assert response.status_code == 400 and list(response.json()) == ["email"], response.content
    else:
        assert response.status_code == 201, response.content
        # Two accounts, and each address finds only its own.
        assert identity.account_with_email(first).username == "first"
        assert identity.account_with_email(second).username == "second"


def test_an_address_logs_in_and_resets_only_its_own_account(api_client, make_user):
    make_user("first", email="iris@example.com")
    make_user("second", email="ırıs@example.com")
    for spelling, owner in [("IRIS@example.com", "first"), ("ırıs@EXAMPLE.com", "second"), ("IRıS@example.com", None)]:
        found = [user.username for user in recovery.users_for_reset(spelling)]
        assert found == ([owner] if owner else []), spelling
        response = api_client.post("/api/auth/login/", {"username": spelling, "password": PASSWORD}, format="json")
        if owner:
            assert response.json()["user"]["username"] == owner
        else:
            assert response.status_code == 401


def test_eight_spellings_of_an_address_deliver_at_most_five_reset_mails(api_client, make_user, smtp):
    """PostgreSQL's UPPER() makes ı and i one letter; the canonical key does not: the
    eight spellings of iris.liv@ with ı for any i (and any case) are seven other
    addresses, and the account's inbox gets what one address may ask for."""
    make_user("iris", email="iris.liv@example.com")
    spellings = []
    for mask in range(8):
        letters = iter("ı" if mask & (1 << n) else "i" for n in range(3))
        spellings.append("".join(next(letters) if c == "i" else c for c in "iris.liv@example.com"))
    spellings[0] = spellings[0].upper()  # the account's own address, in another case
    assert len(set(spellings)) == 8
    answers = [
        reset(api_client, spelling, f"192.0.2.{i * 8 + j}") for i, spelling in enumerate(spellings) for j in range(6)
    ]
    assert {a.status_code for a in answers} <= {202, 429}
    outbox.flush()
    assert len(smtp.to("iris.liv@example.com")) == 5


def test_a_verified_address_stays_verified_whatever_its_case_or_width(make_user):
    user = make_user("kim", email="kim@example.com")
    recovery.mark_verified(user)
    user.email = "\u212aIM@example.com"  # the same address, as login names compare
    user.save()
    assert recovery.is_email_verified(user)
    user.email = "kım@example.com"  # another address: no longer verified
    user.save()
    assert not recovery.is_email_verified(user)
