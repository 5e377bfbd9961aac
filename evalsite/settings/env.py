"""The one reader of environment variables: django-environ's ``Env``, with the meanings evalsite's
variables have always had where the library's differ (each override says which).

Every variable is listed with a one-line explanation in ``.env.example``."""

from __future__ import annotations

import environ


class Env(environ.Env):
    """``env.int(name, default=3)``, ``env.bool``, ``env.float``, ``env.str``, ``env.list``
    (comma-separated); an unset variable gives its default."""

    # Only these switch a flag on ("y", "ok" or "2" do not), as before django-environ.
    BOOLEAN_TRUE_STRINGS = ("1", "true", "yes", "on")

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        value = self.ENVIRON.get(var)
        if value is not None and value.strip() == "" and cast in (bool, int, float) and default is not self.NOTSET:
            # Empty means unset for a flag or a number: .env.example and docker compose pass "NAME="
            # for "the default" (a string or a list keeps its empty value: it may mean "off").
            return default
        if value is not None and value.startswith("$"):
            # Taken as it is: a key or token may begin with "$", which django-environ would read
            # as the name of another variable to take the value from.
            return self.parse_value(value, cast)
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)

    @classmethod
    def parse_value(cls, value, cast):
        if cast is bool:
            return value.strip().lower() in cls.BOOLEAN_TRUE_STRINGS
        if cast is float:
            return float(value)  # django-environ drops every character but digits, "," and "." ("1e3" -> 13)
        if cast is list:
            return [part.strip() for part in value.split(",") if part.strip()]  # "a, b" is ["a", "b"]
        return super().parse_value(value, cast)


env = Env()
