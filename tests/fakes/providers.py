"""Fake GitHub, Google (JWKS, code flow), LinkedIn (OpenID Connect) and Facebook (Graph, login
dialog) on one loopback server. They check what the real ones check (client credentials, codes,
bearer tokens, the app token, appsecret_proof; for a code issued by their authorize endpoint,
its redirect URI and the PKCE verifier against the S256 challenge) and can be told to fail:
`fake.faults[path] = "500" | "hang" | ...`.

The authorize endpoints act as the person consenting: `fake.approve_next(provider, code)` names
the code (made by `github_account`, `google_account`, ...) that the next visit hands out, bound
to that visit's `code_challenge`, `redirect_uri` and `nonce`, with a 302 back to the redirect URI
carrying `code` and the `state` echoed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.http_server import FakeHTTPServer, FakeRequest, FakeResponse

GITHUB_CLIENT = ("gh-client", "gh-secret")
LINKEDIN_CLIENT = ("li-client", "li-secret")
FACEBOOK_APP = ("fb-app", "fb-secret")
GOOGLE_CLIENT_ID = "google-client.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "google-secret"
LINKEDIN_REDIRECT = "http://frontend.test/social/linkedin"


@dataclass
class Binding:
    """What an authorize visit bound its code to (RFC 7636, OpenID Connect)."""

    redirect_uri: str
    challenge: str | None
    nonce: str | None


@dataclass
class FakeProviders:
    delay: float = 0.0  # every answer waits this long (benchmarks)
    jwks_max_age: int = 3600
    faults: dict[str, str] = field(default_factory=dict)  # path -> "500"|"hang"|"bad_json"|"404"
    calls: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # code -> access token
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> data
    fb_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    google_keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    # Paths whose requests wait (up to 2 s) until all of them are in flight; `met` says whether
    # they all were at once, proving the client sent them concurrently.
    together: set[str] = field(default_factory=set)
    met: bool = False
    # The authorize endpoints: the code each provider's next visit hands out, what each visit
    # asked for (its query), and what the codes handed out are bound to.
    approved: dict[str, list[str]] = field(default_factory=dict)
    authorize_requests: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    bindings: dict[str, Binding] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = FakeHTTPServer(self._handle)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def url(self, prefix: str) -> str:
        return f"{self.server.base_url}{prefix}"

    def settings_overrides(self) -> dict[str, Any]:
        """Settings that point the app at this server with matching credentials."""
        return {
            "github_client_id": GITHUB_CLIENT[0],
            "github_oauth_client_secret": GITHUB_CLIENT[1],
            "github_oauth_url": self.url("/github/oauth"),
            "github_api_url": self.url("/github/api"),
            "google_client_id": GOOGLE_CLIENT_ID,
            "google_certs_url": self.url("/google/certs"),
            "google_client_secret": GOOGLE_CLIENT_SECRET,
            "google_authorize_url": self.url("/google/authorize"),
            "google_token_url": self.url("/google/token"),
            "linkedin_client_id": LINKEDIN_CLIENT[0],
            "linkedin_oauth_client_secret": LINKEDIN_CLIENT[1],
            "linkedin_redirect_uri_": LINKEDIN_REDIRECT,
            "linkedin_oauth_url": self.url("/linkedin/oauth"),
            "linkedin_api_url": self.url("/linkedin/api"),
            "facebook_client_id": FACEBOOK_APP[0],
            "facebook_client_secret": FACEBOOK_APP[1],
            "facebook_graph_url": self.url("/facebook"),
            "facebook_dialog_url": self.url("/facebook/dialog/oauth"),
        }

    def approve_next(self, provider: str, code: str) -> None:
        """The next visit to `provider`'s authorize endpoint consents and hands out `code`."""
        self.approved.setdefault(provider, []).append(code)

    # --- accounts the fakes know ------------------------------------------------------------
    def github_account(
        self,
        user_id: int,
        *,
        email: str | None,
        emails: list[dict[str, Any]] | None = None,
        name: str | None = "Ada Lovelace",
        login: str = "ada",
    ) -> str:
        """A fresh one-time code for this GitHub user."""
        if emails is None:
            emails = [{"email": email, "primary": True, "verified": True}] if email else []
        user = {"id": user_id, "login": login, "name": name, "email": email}
        return self._code({"user": user, "emails": emails})

    def linkedin_account(
        self,
        sub: str,
        *,
        email: str | None,
        email_verified: bool = True,
        given_name: str = "Ada",
        family_name: str = "Lovelace",
    ) -> str:
        info = {
            "sub": sub,
            "email": email,
            "email_verified": email_verified,
            "given_name": given_name,
            "family_name": family_name,
            "name": f"{given_name} {family_name}",
        }
        return self._code({"userinfo": info})

    def google_account(
        self, sub: str, *, email: str | None = "ada@example.com", **claims: Any
    ) -> str:
        """A code of Google's code flow; the token endpoint mints the ID token (with the nonce
        the authorize visit asked for)."""
        return self._code({"claims": {"sub": sub, "email": email, **claims}})

    def facebook_code(self, user_id: str, *, email: str | None, name: str = "Ada Lovelace") -> str:
        """A code of Facebook's login dialog, worth an access token of this user."""
        code = secrets.token_hex(8)
        self.codes[code] = self.facebook_token(user_id, email=email, name=name)
        return code

    def facebook_token(
        self,
        user_id: str,
        *,
        email: str | None,
        app_id: str = FACEBOOK_APP[0],
        valid: bool = True,
        name: str = "Ada Lovelace",
    ) -> str:
        token = "fb-" + secrets.token_hex(8)
        first, _, last = name.partition(" ")
        self.fb_tokens[token] = {
            "debug": {
                "app_id": app_id,
                "is_valid": valid,
                "user_id": user_id,
                "scopes": ["email", "public_profile"],
                "data_access_expires_at": 1900000000,
            },
            "me": {
                "id": user_id,
                "name": name,
                "email": email,
                "first_name": first,
                "last_name": last,
            },
        }
        return token

    def _code(self, data: dict[str, Any]) -> str:
        code, token = secrets.token_hex(8), "tok-" + secrets.token_hex(8)
        self.codes[code] = token
        self.profiles[token] = data
        return code

    # --- Google ID tokens ---------------------------------------------------------------
    def google_key(self, kid: str, *, publish: bool = True) -> rsa.RSAPrivateKey:
        if kid not in self.google_keys:
            if kid not in _GENERATED:  # RSA key generation is slow: once per run and kid
                _GENERATED[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.google_keys[kid] = _GENERATED[kid]
        if publish:
            self.published.add(kid)
        return self.google_keys[kid]

    def google_token(
        self,
        *,
        kid: str = "k1",
        key: rsa.RSAPrivateKey | None = None,
        nonce: str | None = None,
        **claims: Any,
    ) -> str:
        """An RS256 ID token; claims override the valid defaults (None removes a claim). Like
        Google, it carries a `nonce` claim only when the sign-in asked for one."""
        if nonce is not None:
            claims["nonce"] = nonce
        now = int(time.time())
        body = {
            "iss": "https://accounts.google.com",
            "aud": GOOGLE_CLIENT_ID,
            "sub": "g-1",
            "email": "ada@example.com",
            "email_verified": True,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
            "iat": now,
            "exp": now + 3600,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        signer = key or self.google_key(kid)
        return jwt.encode(body, signer, algorithm="RS256", headers={"kid": kid})

    def forged_token(self, alg: str, *, kid: str = "k1", **claims: Any) -> str:
        """`alg=none`, or HS256 signed with the published public key as the secret."""
        good = self.google_token(kid=kid, **claims)
        payload = good.split(".")[1]
        header = _b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
        if alg == "none":
            return f"{header}.{payload}."
        public = (
            self.google_key(kid)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    # --- the server ---------------------------------------------------------------------
    async def _handle(self, request: FakeRequest) -> FakeResponse:
        path = request.path
        self.calls[path] = self.calls.get(path, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if path in self.together:
            await self._rendezvous(path)
        fault = self.faults.get(path)
        if fault == "hang":
            await asyncio.Event().wait()
        if fault == "bad_json":
            return FakeResponse(200, b"<html>oops</html>", {"Content-Type": "text/html"})
        if fault is not None:
            return FakeResponse(int(fault), {"message": "fake failure"})
        route = ROUTES.get((request.method, path))
        if route is None:
            return FakeResponse(404, {"message": "Not Found"})
        return route(self, request)

    async def _rendezvous(self, path: str) -> None:
        self._arrived = getattr(self, "_arrived", set()) | {path}
        if self._arrived >= self.together:
            self.met = True
        for _ in range(200):
            if self.met:
                return
            await asyncio.sleep(0.01)

    # --- authorize endpoints (the person's browser visits them) -----------------------------
    def _authorize(self, provider: str, client_id: str, request: FakeRequest) -> FakeResponse:
        query = request.query
        self.authorize_requests.setdefault(provider, []).append(dict(query))
        redirect_uri, state = query.get("redirect_uri"), query.get("state")
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
        if (
            query.get("client_id") != client_id
            or query.get("response_type") != "code"
            or not redirect_uri
            or not state
            or not query.get("scope")
            or (challenge is not None and method != "S256")
            or (provider == "google" and not query.get("nonce"))
            or not self.approved.get(provider)
        ):
            return FakeResponse(400, {"error": "invalid_request"})
        code = self.approved[provider].pop(0)
        self.bindings[code] = Binding(redirect_uri, challenge, query.get("nonce"))
        location = f"{redirect_uri}?{urlencode({'code': code, 'state': state})}"
        return FakeResponse(302, b"", {"Location": location})

    def _redeem(self, code: str, *, redirect_uri: str | None, verifier: str | None) -> str | None:
        """The token a code is worth, or None: unknown or used, or (a code an authorize visit
        handed out) another redirect URI or a verifier that does not match the challenge."""
        token = self.codes.pop(code, None)
        binding = self.bindings.pop(code, None)
        if token is None or binding is None:
            return token
        if redirect_uri != binding.redirect_uri:
            return None
        if binding.challenge is not None and (
            verifier is None or _s256(verifier) != binding.challenge
        ):
            return None
        return token

    # --- token endpoints and APIs ---------------------------------------------------------
    def _github_token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret")) != GITHUB_CLIENT:
            return FakeResponse(200, {"error": "incorrect_client_credentials"})
        token = self._redeem(
            form.get("code", ""),
            redirect_uri=form.get("redirect_uri"),
            verifier=form.get("code_verifier"),
        )
        if token is None or request.headers.get("accept") != "application/json":
            return FakeResponse(200, {"error": "bad_verification_code"})
        return FakeResponse(200, {"access_token": token, "token_type": "bearer", "scope": "user"})

    def _google_token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret")) != (
            GOOGLE_CLIENT_ID,
            GOOGLE_CLIENT_SECRET,
        ) or form.get("grant_type") != "authorization_code":
            return FakeResponse(401, {"error": "invalid_client"})
        code = form.get("code", "")
        nonce = self.bindings[code].nonce if code in self.bindings else None
        token = self._redeem(
            code, redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier")
        )
        if token is None:
            return FakeResponse(400, {"error": "invalid_grant"})
        claims = self.profiles[token]["claims"]
        return FakeResponse(
            200,
            {
                "access_token": token,
                "expires_in": 3599,
                "id_token": self.google_token(nonce=nonce, **claims),
                "scope": "openid email profile",
                "token_type": "Bearer",
            },
        )

    def _facebook_code_token(self, request: FakeRequest) -> FakeResponse:
        query = request.query
        if (query.get("client_id"), query.get("client_secret")) != FACEBOOK_APP:
            return FakeResponse(400, {"error": {"message": "Error validating client secret."}})
        token = self._redeem(
            query.get("code", ""),
            redirect_uri=query.get("redirect_uri"),
            verifier=query.get("code_verifier"),
        )
        if token is None:
            return FakeResponse(400, {"error": {"message": "Invalid verification code format."}})
        return FakeResponse(
            200, {"access_token": token, "token_type": "bearer", "expires_in": 5183944}
        )

    def _bearer_data(self, request: FakeRequest, part: str) -> FakeResponse:
        profile = self.profiles.get(request.bearer() or "")
        if profile is None or part not in profile:
            return FakeResponse(401, {"message": "Bad credentials"})
        return FakeResponse(200, profile[part])

    def _google_certs(self, request: FakeRequest) -> FakeResponse:
        keys = []
        for kid in sorted(self.published):
            jwk = json.loads(RSAAlgorithm.to_jwk(self.google_keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        headers = {"Cache-Control": f"public, max-age={self.jwks_max_age}"}
        return FakeResponse(200, {"keys": keys}, headers)

    def _linkedin_token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        code = form.get("code", "")
        if (
            (form.get("client_id"), form.get("client_secret")) != LINKEDIN_CLIENT
            or form.get("grant_type") != "authorization_code"
            or (code not in self.bindings and form.get("redirect_uri") != LINKEDIN_REDIRECT)
        ):
            return FakeResponse(401, {"error": "invalid_client"})
        token = self._redeem(
            code, redirect_uri=form.get("redirect_uri"), verifier=form.get("code_verifier")
        )
        if token is None:
            return FakeResponse(400, {"error": "invalid_grant"})
        return FakeResponse(200, {"access_token": token, "expires_in": 5183999})

    def _facebook_debug(self, request: FakeRequest) -> FakeResponse:
        if request.query.get("access_token") != "|".join(FACEBOOK_APP):
            return FakeResponse(400, {"error": {"message": "Invalid OAuth access token."}})
        known = self.fb_tokens.get(request.query.get("input_token", ""))
        if known is None:
            return FakeResponse(200, {"data": {"is_valid": False, "error": {"code": 190}}})
        return FakeResponse(200, {"data": known["debug"]})

    def _facebook_me(self, request: FakeRequest) -> FakeResponse:
        token = request.query.get("access_token", "")
        known = self.fb_tokens.get(token)
        proof = hmac.new(FACEBOOK_APP[1].encode(), token.encode(), hashlib.sha256).hexdigest()
        if known is None or request.query.get("appsecret_proof") != proof:
            return FakeResponse(400, {"error": {"message": "Invalid OAuth access token."}})
        return FakeResponse(200, {k: v for k, v in known["me"].items() if v is not None})


_GENERATED: dict[str, rsa.RSAPrivateKey] = {}

ROUTES = {
    ("GET", "/github/oauth/authorize"): lambda fake, r: fake._authorize(
        "github", GITHUB_CLIENT[0], r
    ),
    ("GET", "/google/authorize"): lambda fake, r: fake._authorize("google", GOOGLE_CLIENT_ID, r),
    ("GET", "/linkedin/oauth/authorization"): lambda fake, r: fake._authorize(
        "linkedin", LINKEDIN_CLIENT[0], r
    ),
    ("GET", "/facebook/dialog/oauth"): lambda fake, r: fake._authorize(
        "facebook", FACEBOOK_APP[0], r
    ),
    ("POST", "/github/oauth/access_token"): FakeProviders._github_token,
    ("POST", "/google/token"): FakeProviders._google_token,
    ("GET", "/facebook/oauth/access_token"): FakeProviders._facebook_code_token,
    ("GET", "/github/api/user"): lambda fake, r: fake._bearer_data(r, "user"),
    ("GET", "/github/api/user/emails"): lambda fake, r: fake._bearer_data(r, "emails"),
    ("GET", "/google/certs"): FakeProviders._google_certs,
    ("POST", "/linkedin/oauth/accessToken"): FakeProviders._linkedin_token,
    ("GET", "/linkedin/api/userinfo"): lambda fake, r: fake._bearer_data(r, "userinfo"),
    ("GET", "/facebook/debug_token"): FakeProviders._facebook_debug,
    ("GET", "/facebook/me"): FakeProviders._facebook_me,
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())
