"""Give an account API access (creating it if needed) and print its API token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ratings.studies import researcher_grant


class Command(BaseCommand):
    help = "Create (or reuse) a researcher account, add it to the researchers group and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default="", help="Set this password (an existing account keeps its own if omitted).")

    def handle(self, *args, username, email, password, **options):
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            if not password:
                raise CommandError(f"No account named '{username}'; give --password to create it.")
            user = users.create_user(username, email=email, password=password)
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        token = researcher_grant(user=user)
        self.stdout.write(f"{username} can use the API. Token: {token.key}")
