# The smallest Django site with the contrib apps whose tables hold a user's data (auth, admin,
# sessions) and the shop app. The database comes from libpq's environment (PGHOST, PGPORT,
# PGUSER, PGDATABASE).
import os

SECRET_KEY = "pg_erasure example, not a secret"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "shop",
    "accounts",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "django.template.context_processors.request",
    ]},
}]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["PGDATABASE"],
        "HOST": os.environ["PGHOST"],
        "PORT": os.environ["PGPORT"],
        "USER": os.environ["PGUSER"],
    }
}
# Sessions that SQL can find by user (accounts/sessions.py); django_session stays unused.
SESSION_ENGINE = "accounts.sessions"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
