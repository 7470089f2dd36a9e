"""
A changed email address is pending until the link mailed to it is used: until then it is
no login name, blocks no one, and a newer change replaces it. Run on SQLite and on the
PostgreSQL pass (no marker: every pass that uses a database).
"""

from django.contrib.auth import get_user_model

from authgate import recovery
from authgate.mail import outbox

from ..conftest import PASSWORD, bearer, login
from ..support.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

NEWHIRE = "newhire@example.com"


def change_email(client, access, address):
    return client.patch("/api/auth/me/", {"email": address, "password": PASSWORD}, format="json", **bearer(access))


def verify(client, link):
    return client.post("/api/auth/email/verify/", link, format="json")


def mails_for(smtp, address, user):
    """The mails to `address` whose link names `user`."""
    outbox.flush()
    return [m for m in smtp.to(address) if m.link and recovery.user_for_uid(m.uid_and_token["uid"]) == user]


def test_an_address_parked_by_an_attacker_goes_to_the_newhire_who_registers_it(api_client, make_user, tokens_for, smtp):
    attacker = make_user("mallory")
    access = tokens_for(attacker)["access"]
    response = change_email(api_client, access, NEWHIRE)
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["pending_email"]) == ("mallory@example.com", NEWHIRE)

    # The pending address blocks no one: the newhire registers with it and signs in to their own account.
    registered = api_client.post(
        "/api/auth/register/", {"username": "newhire", "email": NEWHIRE, "password": PASSWORD}, format="json"
    )
    assert registered.status_code == 201, registered.content
    newhire = get_user_model().objects.get(username="newhire")
    signed_in = login(api_client, NEWHIRE)
    assert signed_in.status_code == 200
    assert api_client.get("/api/auth/me/", **bearer(signed_in.json()["access"])).json()["username"] == "newhire"

    # A reset for that address goes to the newhire's account, and so does their verification.
    assert api_client.post("/api/auth/password/reset/", {"email": NEWHIRE}, format="json").status_code == 202
    outbox.flush()
    reset_mails = [m for m in smtp.to(NEWHIRE) if "password" in m.subject.lower()]
    assert [recovery.user_for_uid(m.uid_and_token["uid"]) for m in reset_mails] == [newhire]
    [own_link] = mails_for(smtp, NEWHIRE, newhire)[:1]
    assert verify(api_client, own_link.uid_and_token).status_code == 200

    # The attacker's link, used now, is refused and changes nothing.
    [parked] = mails_for(smtp, NEWHIRE, attacker)
    refused = verify(api_client, parked.uid_and_token)
    assert refused.status_code == 400
    assert refused.json()["code"] == "email_taken"
    attacker.refresh_from_db()
    assert attacker.email == "mallory@example.com"
    assert login(api_client, NEWHIRE).json()["user"]["username"] == "newhire"


def test_the_link_mailed_to_the_pending_address_makes_it_the_email_and_a_login_name(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    assert change_email(api_client, access, "alice@new.example").status_code == 200
    assert login(api_client, "alice@new.example").status_code == 401  # pending: no login name yet
    assert login(api_client, "alice@example.com").status_code == 200
    [link] = mails_for(smtp, "alice@new.example", user)
    assert verify(api_client, link.uid_and_token).status_code == 200
    body = api_client.get("/api/auth/me/", **bearer(access)).json()
    assert (body["email"], body["pending_email"], body["email_verified"]) == ("alice@new.example", "", True)
    assert login(api_client, "ALICE@new.example").status_code == 200
    assert login(api_client, "alice@example.com").status_code == 401


def test_a_newer_change_replaces_the_pending_address_and_kills_its_link(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    change_email(api_client, access, "first@example.com")
    [first] = mails_for(smtp, "first@example.com", user)
    change_email(api_client, access, "first@example.com")  # the same address again: a new link
    [_, again] = mails_for(smtp, "first@example.com", user)
    assert verify(api_client, first.uid_and_token).json()["code"] == "invalid_link"
    assert change_email(api_client, access, "second@example.com").json()["pending_email"] == "second@example.com"
    assert verify(api_client, again.uid_and_token).json()["code"] == "invalid_link"
    # Back to the current address: nothing pending any more.
    assert change_email(api_client, access, "alice@example.com").json()["pending_email"] == ""
    [second] = mails_for(smtp, "second@example.com", user)
    assert verify(api_client, second.uid_and_token).json()["code"] == "invalid_link"
    user.refresh_from_db()
    assert user.email == "alice@example.com"


def test_a_link_mailed_to_the_current_address_never_confirms_the_pending_one(api_client, user, tokens_for, smtp):
    access = tokens_for(user)["access"]
    change_email(api_client, access, "elsewhere@example.com")
    assert api_client.post("/api/auth/email/verify/resend/", **bearer(access)).status_code == 202
    [current] = mails_for(smtp, "alice@example.com", user)
    assert verify(api_client, current.uid_and_token).json() == {"detail": "Your email address is verified."}
    body = api_client.get("/api/auth/me/", **bearer(access)).json()
    assert (body["email"], body["pending_email"]) == ("alice@example.com", "elsewhere@example.com")


def test_an_address_another_account_took_meanwhile_is_refused_at_confirmation(api_client, make_user, tokens_for, smtp):
    alice = make_user("alice")
    access = tokens_for(alice)["access"]
    change_email(api_client, access, "shared@example.com")
    bob = make_user("bob")
    bob.email = "SHARED@example.com"  # as the admin would: any case is the same address
    bob.save()
    [link] = mails_for(smtp, "shared@example.com", alice)
    refused = verify(api_client, link.uid_and_token)
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Another account now uses this email address: it cannot become yours.",
        "code": "email_taken",
    }
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert login(api_client, "shared@example.com").json()["user"]["username"] == "bob"
    assert api_client.get("/api/auth/me/", **bearer(access)).json()["pending_email"] == "shared@example.com"
