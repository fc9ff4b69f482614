"""The README's "From your migration tool" shows the example migrations exactly as the
framework tests run them: each file below must appear in it verbatim, as a code block."""
import os
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLES = [
    "django/shop/migrations/0001_initial.py",
    "django/shop/migrations/0002_customer_phone.py",
    "django/shop/migrations/0003_rename_phone_mobile.py",
    "django/shop/migrations/0004_remove_birth_date.py",
    "django/accounts/migrations/0001_erasure_user.py",
    "django/accounts/migrations/0002_user_session.py",
    "django/accounts/migrations/0003_erasure_user_tables.py",
    "django/accounts/models.py",
    "django/accounts/sessions.py",
    "alembic/versions/0001_shop.py",
    "alembic/versions/0002_customer_phone.py",
    "alembic/versions/0003_rename_phone_mobile.py",
    "alembic/versions/0004_remove_birth_date.py",
    "sql/V1__shop.sql",
    "sql/U1__shop.sql",
]

with open(os.path.join(ROOT, "README.md")) as f:
    readme = f.read()
missing = []
for example in EXAMPLES:
    with open(os.path.join(ROOT, "examples", "migrations", example)) as f:
        if f"\n{f.read()}```\n" not in readme:
            missing.append(example)
if missing:
    sys.exit("README.md does not show these examples as they are: " + ", ".join(missing))
print(f"readme: the {len(EXAMPLES)} example migrations appear in README.md as the tests run them")
