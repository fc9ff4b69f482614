from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class UserSession(AbstractBaseSession):
    """Django's database sessions with the user in a column of their own (Django's "extending
    database-backed session engines"), so that SQL can find a user's sessions."""

    user = models.ForeignKey("auth.User", null=True, on_delete=models.CASCADE)

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore
