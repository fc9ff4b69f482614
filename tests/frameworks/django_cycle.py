"""The Django example (examples/migrations/django) for real: its migrations forward, backward
and forward again, an erasure through Django's own connection, and Django's users as a second
subject (admin log, sessions). Run by scripts/frameworks.sh in the virtualenv it made, against
the database in PGDATABASE, which has pg_erasure installed and nothing else."""
import json
import os
import subprocess
import sys

import cycle  # tests/frameworks/cycle.py, beside this file
from cycle import CATALOG

SITE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "migrations", "django")
sys.path.insert(0, SITE)
os.environ["DJANGO_SETTINGS_MODULE"] = "site_settings"

import django  # noqa: E402

django.setup()

from django.contrib.admin.models import CHANGE, LogEntry  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore as DefaultSessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import UserSession  # noqa: E402
from accounts.sessions import SessionStore  # noqa: E402
from shop.models import Customer, Invoice, Order  # noqa: E402


def migrate(*target):
    """manage.py migrate, as a deployment runs it."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0", *target], cwd=SITE, check=True)


def query(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def catalog():
    return query(CATALOG)


def equal(actual, expected, what):
    cycle.equal("django", actual, expected, what)


def findings(subject=None):
    return query("SELECT severity, tbl::text, col, problem FROM erasure.check(%s)", [subject])


def errors(subject=None):
    return [f for f in findings(subject) if f[0] == "error"]


# Django's users first, registered with the policies of auth_user alone: check() names the
# tables holding a user's rows through a foreign key. It says nothing about django_session:
# no foreign key, no column names the user (the id is inside session_data, signed and usually
# zlib-compressed, which SQL cannot read).
ACCOUNTS = ["0001_erasure_user", "0002_user_session", "0003_erasure_user_tables"]
SHOP = ["0001_initial", "0002_customer_phone", "0003_rename_phone_mobile", "0004_remove_birth_date"]
accounts = cycle.forward(lambda step: migrate("accounts", step), catalog, ACCOUNTS[:1])
equal(sorted(f[1] for f in errors("user")),
      ["auth_user_groups", "auth_user_user_permissions", "django_admin_log"], "check('user') before 0002")
equal([f for f in findings("user") if f[1] == "django_session"], [], "check('user') about django_session")
accounts += cycle.forward(lambda step: migrate("accounts", step), catalog, ACCOUNTS[1:])[1:]
equal(errors("user"), [], "check('user') after the accounts migrations")
before = catalog()

# The shop: tables and their policies, a column added with its policy, renamed, dropped.
shop = cycle.forward(lambda step: migrate("shop", step), catalog, SHOP)
equal(errors(), [], "check() after migrate")
equal(query("SELECT col, strategy FROM erasure.column_policies WHERE tbl = 'shop_customer'::regclass ORDER BY col"),
      [("email", "placeholder"), ("mobile", "null"), ("name", "constant"), ("state", "keep")],
      "shop_customer's policies after the rename and the drop")
after = catalog()

# An erasure through Django's own connection, and a blocker refusing one.
now = timezone.now()
paid = Customer.objects.create(name="Ana Example", email="ana@example.com", state="SP", mobile="+55 11 5555")
unpaid = Customer.objects.create(name="Bob Example", email="bob@example.com", state="RJ")
Order.objects.create(customer=paid, shipping_name="Ana Example", placed_at=now)
Order.objects.create(customer=unpaid, shipping_name="Bob Example", placed_at=now)
Invoice.objects.create(customer=paid, number="F-1", total="10.00", paid=True)
Invoice.objects.create(customer=unpaid, number="F-2", total="20.00")
with connection.cursor() as cursor:
    cursor.execute("SELECT erasure.anonymize_customer(%s) ->> 'status'", [paid.pk])
    equal(cursor.fetchone()[0], "anonymized", "the erasure's status")
paid.refresh_from_db()
equal((paid.name, paid.email, paid.state, paid.mobile), ("Xxxx", f"erased-{paid.pk}@invalid.example", "SP", None),
      "the erased customer")
equal(list(Order.objects.order_by("id").values_list("shipping_name", flat=True)), ["Unknown customer", "Bob Example"],
      "the orders")
equal(list(Invoice.objects.order_by("id").values_list("number", "paid")), [("F-1", True), ("F-2", False)],
      "the invoices")
try:
    with connection.cursor() as cursor:
        cursor.execute("SELECT erasure.anonymize_customer(%s)", [unpaid.pk])
    sys.exit("django: the customer with an unpaid invoice was erased")
except OperationalError as e:
    equal(e.__cause__.sqlstate, "55000", "the blocked erasure's SQLSTATE")
equal(Customer.objects.get(pk=unpaid.pk).name, "Bob Example", "the blocked customer")

# Backward: the shop's migrations take their registrations back, to the row; forward again.
cycle.backward("django", lambda step: migrate("shop", step), catalog, SHOP, shop, "zero")
equal(catalog(), before, "the catalog after migrate shop zero")
migrate()
equal(catalog(), after, "the catalog after migrating again")
equal(errors(), [], "check() after migrating again")

# Django's users: two staff users who changed each other in the admin, each logged in twice:
# through the example's SESSION_ENGINE (accounts_usersession, user id in a column) and through
# Django's default database sessions (django_session, user id inside the blob).
ana = User.objects.create_user("ana", "ana@example.com", "secret-1", first_name="Ana", is_staff=True)
bob = User.objects.create_user("bob", "bob@example.com", "secret-2", first_name="Bob", is_staff=True)
user_type = ContentType.objects.get_for_model(User)
for actor, target in [(ana, bob), (bob, ana), (bob, bob)]:
    LogEntry.objects.create(user=actor, content_type=user_type, object_id=str(target.pk), object_repr=target.username,
                            action_flag=CHANGE, change_message="[]")
sessions, default_sessions = {}, {}
for user in (ana, bob):
    client = Client()
    client.force_login(user)
    sessions[user.username] = client.session.session_key
    default = DefaultSessionStore()
    default.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash()})
    default.create()
    default_sessions[user.username] = default.session_key
equal(errors("user"), [], "check('user') with users")
with connection.cursor() as cursor:
    cursor.execute("SELECT erasure.anonymize('user', %s) -> 'tables'", [ana.pk])
    report = {t["table"]: (t["action"], t["rows"]) for t in json.loads(cursor.fetchone()[0])}
equal(report["public.django_admin_log"], ("deleted", 2), "the admin log rows by and about the erased user")
equal(report["public.accounts_usersession"], ("deleted", 1), "the erased user's sessions")
ana.refresh_from_db()
equal((ana.username, ana.email, ana.first_name, ana.is_active, ana.is_staff, ana.has_usable_password()),
      (f"erased-{ana.pk}", "", "", False, False, False), "the erased user")
equal(list(LogEntry.objects.values_list("user_id", "object_id")), [(bob.pk, str(bob.pk))], "the admin log left")
equal(list(UserSession.objects.values_list("session_key", flat=True)), [sessions["bob"]], "the sessions left")


def session_user(store):
    request = HttpRequest()
    request.session = store
    return get_user(request)


equal(session_user(SessionStore(sessions["bob"])).pk, bob.pk, "the other user's session")
# Django's default sessions: the erasure cannot find the erased user's one. Django refuses it
# (the user is inactive), and manage.py clearsessions deletes it once it has expired.
equal(session_user(DefaultSessionStore(default_sessions["ana"])).is_authenticated, False,
      "the erased user's default session")
equal(session_user(DefaultSessionStore(default_sessions["bob"])).pk, bob.pk, "the other user's default session")
Session.objects.filter(session_key=default_sessions["ana"]).update(expire_date=timezone.now())
DefaultSessionStore.clear_expired()  # what manage.py clearsessions runs on the default engine
equal(list(Session.objects.values_list("session_key", flat=True)), [default_sessions["bob"]],
      "the default sessions after clearsessions")

# Backward and forward for Django's users too: these migrations drop no table, so only their
# reverse_sql takes the registrations back.
shop_rows = set(after) - set(before)
cycle.backward("django", lambda step: migrate("accounts", step), catalog, ACCOUNTS,
               [sorted(set(snapshot) | shop_rows) for snapshot in accounts], "zero")
migrate()
equal(catalog(), after, "the catalog after migrating accounts again")
print(f"django: migrate, erasures, migrate shop zero and accounts zero (catalog as before), migrate again: "
      f"{len(after)} catalog rows, check() clean")
