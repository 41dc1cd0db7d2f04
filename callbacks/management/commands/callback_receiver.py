"""``python manage.py callback_receiver``: a partner's end of the callbacks, for local development.

Listens on 127.0.0.1, verifies each callback's Standard Webhooks signature against every
partner's live secrets (the current one and each replaced one before its expiry), prints it
and answers 204 (401 when no partner's secret verifies it). The demo's partners point their
callback URL here (``make run`` starts it).
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks.models import Partner
from callbacks.signing import partner_signing_secrets


class Command(BaseCommand):
    help = "Receive, verify and print partner callbacks on 127.0.0.1 (local development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args, port: int, **options):
        command = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                partner = command.partner_verifying(body, headers)
                if partner is None:
                    command.stderr.write(f"Unverified callback {headers.get('webhook-id')}")
                    self.send_response(401)
                else:
                    conversion = json.loads(body).get("conversion")
                    if conversion is None:
                        command.stdout.write(
                            f"{partner}: test callback {headers['webhook-id']} verified"
                        )
                        self.send_response(204)
                        self.end_headers()
                        return
                    command.stdout.write(
                        f"{partner}: conversion {conversion['conversionId']} is "
                        f"{conversion['status']} (#{conversion['statusChangeNumber']}, "
                        f"callback {headers['webhook-id']})"
                    )
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format, *args) -> None:  # noqa: A002
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.stdout.write(f"Receiving callbacks on http://127.0.0.1:{port}/callbacks")
        server.serve_forever()

    def partner_verifying(self, body: bytes, headers: dict[str, str]) -> Partner | None:
        now = timezone.now()
        for partner in Partner.objects.exclude(callback_url="").prefetch_related(
            "previous_secrets"
        ):
            for secret in partner_signing_secrets(partner=partner, now=now):
                try:
                    Webhook(secret).verify(body, headers)
                except WebhookVerificationError:
                    continue
                return partner
        return None
