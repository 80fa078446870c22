"""A real OAuth2 identity provider for Gatehouse's tests: django-oauth-toolkit on SQLite.

    python idp.py --db PATH --client-id ID --client-secret SECRET
                  [--resource-id RID --resource-secret RSECRET] [--token-ttl SECONDS]

Runs the migrations into PATH, creates (or updates) a confidential client-credentials
application ID/SECRET and, when given, a second one RID/RSECRET for the resource server (the
gateway), which calls /o/introspect/ with HTTP Basic RID:RSECRET. Serves 127.0.0.1 on a port
the OS picks and prints `listening 127.0.0.1:PORT` once it accepts connections; nothing else
goes to stdout.

Besides DOT's /o/token/, /o/introspect/ and /o/revoke_token/ it has test-only controls under
/test/ (no auth: loopback only) and RS256 JWTs with a rotating key set (/.well-known/jwks.json).
Tests/GatehouseTestSupport/TestIdP.swift starts it.
"""

import argparse
import datetime
import http
import json
import secrets
import socketserver
import sys
import threading
import time
import uuid
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import django
from django.conf import settings


class AnyScopes:
    """Grants whatever scope a client asks for: each test picks its own scope names."""

    def get_all_scopes(self):
        return {}

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return list(getattr(request, "scopes", None) or [])

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return []


def parse_arguments():
    parser = argparse.ArgumentParser(description="OAuth2 identity provider for Gatehouse's tests")
    parser.add_argument("--db", required=True, help="SQLite file (created and migrated)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--resource-id", help="the resource server, allowed to introspect")
    parser.add_argument("--resource-secret")
    parser.add_argument("--token-ttl", type=int, default=3600, help="access token lifetime, seconds")
    arguments = parser.parse_args()
    if (arguments.resource_id is None) != (arguments.resource_secret is None):
        parser.error("--resource-id and --resource-secret go together")
    return arguments


arguments = parse_arguments()

# Django must be configured before anything imports its models, so the rest is imported below.
settings.configure(
    DEBUG=False,
    SECRET_KEY=secrets.token_urlsafe(32),
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider"],
    # CommonMiddleware sets Content-Length, which the server below cannot add by itself.
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": arguments.db,
            # Every request thread has its own connection; WAL lets readers go on beside a
            # writer, and a writer waits for the lock instead of failing with "locked".
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    },
    USE_TZ=True,
    # Client secrets stay hashed at rest, as DOT does by default, but with Django's fast
    # test hasher: PBKDF2's million rounds per client authentication would make hundreds of
    # concurrent introspections take minutes on two cores.
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    OAUTH2_PROVIDER={
        "ACCESS_TOKEN_EXPIRE_SECONDS": arguments.token_ttl,
        "SCOPES_BACKEND_CLASS": AnyScopes,
    },
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from jwcrypto import jwk, jwt  # noqa: E402
from oauth2_provider.models import AccessToken, Application  # noqa: E402
from oauth2_provider.views import IntrospectTokenView, RevokeTokenView, TokenView  # noqa: E402
from oauthlib.common import generate_token  # noqa: E402


class Controls:
    """What the /test/ endpoints set, shared by every request thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.introspections = 0
        self.delay_ms = 0
        self.fail_status = 0


class KeySet:
    """The RSA keys published in the JWKS; the newest one signs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []
        self.rotate(drop_old=False)

    def rotate(self, drop_old):
        key = jwk.JWK.generate(kty="RSA", size=2048, kid=uuid.uuid4().hex, alg="RS256", use="sig")
        with self.lock:
            self.keys = [key] if drop_old else self.keys + [key]

    def signing_key(self):
        with self.lock:
            return self.keys[-1]

    def public_keys(self):
        with self.lock:
            return [key.export_public(as_dict=True) for key in self.keys]


controls = Controls()
keys = KeySet()
base_url = ""  # http://127.0.0.1:PORT, known once the server is bound


def with_controls(app):
    """Counts, delays or fails introspection requests before Django sees them."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != "/o/introspect/":
            return app(environ, start_response)
        with controls.lock:
            controls.introspections += 1
            delay_ms, fail_status = controls.delay_ms, controls.fail_status
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if fail_status:
            # Read the request to its end: closing with bytes unread would reset the connection,
            # and the client could lose the answer.
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            error = {"error": "temporarily_unavailable", "error_description": "failure set by /test/fail"}
            body = json.dumps(error).encode()
            try:
                reason = http.HTTPStatus(fail_status).phrase
            except ValueError:
                reason = "Error"
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response(f"{fail_status} {reason}", headers)
            return [body]
        return app(environ, start_response)

    return wrapped


def ensure_application(client_id, client_secret, name):
    # The plain secret goes in; DOT hashes it on save (hash_client_secret) and checks it
    # against that hash when the client authenticates.
    application, _ = Application.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": name,
            "client_secret": client_secret,
            "hash_client_secret": True,
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
        },
    )
    return application


def form_int(request, name, default=None):
    value = request.POST.get(name)
    return default if value in (None, "") else int(value)


def introspections(request):
    with controls.lock:
        return JsonResponse({"count": controls.introspections})


def reset_introspections(request):
    with controls.lock:
        controls.introspections = 0
    return JsonResponse({"count": 0})


def set_delay(request):
    delay_ms = form_int(request, "ms", 0)
    with controls.lock:
        controls.delay_ms = delay_ms
    return JsonResponse({"ms": delay_ms})


def set_failure(request):
    fail_status = form_int(request, "status", 0)
    with controls.lock:
        controls.fail_status = fail_status
    return JsonResponse({"status": fail_status})


def mint_tokens(request):
    """Genuine AccessToken rows for the client, in one insert: faster than N grants."""
    count = form_int(request, "count", 1)
    ttl = form_int(request, "ttl", arguments.token_ttl)
    expires = timezone.now() + datetime.timedelta(seconds=ttl)
    scope = request.POST.get("scope", "")
    values = [generate_token() for _ in range(count)]
    AccessToken.objects.bulk_create(
        AccessToken(token=value, application=client_application, expires=expires, scope=scope)
        for value in values
    )
    return JsonResponse({"tokens": values})


def mint_jwt(request):
    claims = json.loads(request.body or b"{}")
    now = int(time.time())
    claims.setdefault("iss", base_url)
    claims.setdefault("iat", now)
    claims.setdefault("exp", now + 300)
    claims.setdefault("jti", uuid.uuid4().hex)
    key = keys.signing_key()
    token = jwt.JWT(header={"alg": "RS256", "typ": "at+jwt", "kid": key.get("kid")}, claims=claims)
    token.make_signed_token(key)
    return JsonResponse({"token": token.serialize()})


def rotate_keys(request):
    keys.rotate(drop_old=request.GET.get("drop_old") == "1")
    return JsonResponse({"kids": [key["kid"] for key in keys.public_keys()]})


def jwks(request):
    response = JsonResponse({"keys": keys.public_keys()})
    response["Cache-Control"] = "max-age=60"
    return response


def openid_configuration(request):
    return JsonResponse(
        {
            "issuer": base_url,
            "jwks_uri": base_url + "/.well-known/jwks.json",
            "token_endpoint": base_url + "/o/token/",
            "introspection_endpoint": base_url + "/o/introspect/",
            "revocation_endpoint": base_url + "/o/revoke_token/",
        }
    )


def post_only(view):
    def wrapped(request):
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        return view(request)

    return wrapped


urlpatterns = [
    path("o/token/", TokenView.as_view()),
    path("o/introspect/", IntrospectTokenView.as_view()),
    path("o/revoke_token/", RevokeTokenView.as_view()),
    path("test/introspections", introspections),
    path("test/introspections/reset", post_only(reset_introspections)),
    path("test/delay", post_only(set_delay)),
    path("test/fail", post_only(set_failure)),
    path("test/tokens", post_only(mint_tokens)),
    path("test/jwt", post_only(mint_jwt)),
    path("test/rotate", post_only(rotate_keys)),
    path(".well-known/jwks.json", jwks),
    path(".well-known/openid-configuration", openid_configuration),
]


class ClosingHandler(ServerHandler):
    """Answers HTTP/1.1 with `Connection: close`: one request per connection, said plainly, so
    a client that asked for keep-alive neither waits for more nor reuses the connection."""

    http_version = "1.1"

    def cleanup_headers(self):
        super().cleanup_headers()
        self.headers["Connection"] = "close"


class RequestHandler(WSGIRequestHandler):
    def handle(self):
        # WSGIRequestHandler.handle, with the handler above.
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        environ = self.get_environ()
        handler = ClosingHandler(self.rfile, self.wfile, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())

    def log_message(self, format, *args):
        pass  # stdout carries only the `listening` line; errors still reach stderr


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # Hundreds of clients connect at once in the concurrency tests; the default backlog of 5
    # would drop their SYNs into seconds of retransmission.
    request_queue_size = 1024


call_command("migrate", verbosity=0, interactive=False)
client_application = ensure_application(arguments.client_id, arguments.client_secret, "test client")
if arguments.resource_id is not None:
    ensure_application(arguments.resource_id, arguments.resource_secret, "resource server")

server = ThreadingServer(("127.0.0.1", 0), RequestHandler)
server.set_app(with_controls(get_wsgi_application()))
port = server.server_address[1]
base_url = f"http://127.0.0.1:{port}"
# Bound and listening since the constructor: connections wait in the backlog from here on.
print(f"listening 127.0.0.1:{port}", flush=True)
server.serve_forever()
