"""`GET /social/<provider>/authorize`: the provider's authorize URL with state, PKCE (S256) and,
for Google, a nonce; only redirect URIs of SOCIAL_REDIRECT_URIS (no open redirect); the flow is
kept in the database with its verifier sealed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select

from quart_template.mfa.crypto import decrypt_text
from quart_template.runtime import Runtime
from quart_template.social.flows import s256
from quart_template.social.models import SocialFlow
from tests.fakes.providers import (
    FACEBOOK_APP,
    GITHUB_CLIENT,
    GOOGLE_CLIENT_ID,
    LINKEDIN_CLIENT,
    LINKEDIN_REDIRECT,
    FakeProviders,
)
from tests.support.http import json_error, retry_after
from tests.support.social import PROVIDERS, redirect_uri, start_flow

CLIENT_IDS = {
    "github": GITHUB_CLIENT[0],
    "google": GOOGLE_CLIENT_ID,
    "linkedin": LINKEDIN_CLIENT[0],
    "facebook": FACEBOOK_APP[0],
}
ENDPOINTS = {
    "github": "/github/oauth/authorize",
    "google": "/google/authorize",
    "linkedin": "/linkedin/oauth/authorization",
    "facebook": "/facebook/dialog/oauth",
}
SCOPES = {
    "github": "read:user user:email",
    "google": "openid email profile",
    "linkedin": "openid profile email",
    "facebook": "email,public_profile",
}
TITLES = {"github": "GitHub", "google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook"}
PKCE = ("github", "google", "linkedin")  # Facebook's dialog: state only (see facebook.py)


def _query(url: str) -> dict[str, str]:
    found = parse_qs(urlsplit(url).query, strict_parsing=True)
    assert all(len(values) == 1 for values in found.values()), found
    return {name: values[0] for name, values in found.items()}


async def _flows(rt: Runtime) -> list[SocialFlow]:
    async with rt.db() as db:
        return list((await db.execute(select(SocialFlow))).scalars())


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_url_carries_client_redirect_scope_state_and_pkce(
    client: Client, providers: FakeProviders, provider: str
) -> None:
    body = await start_flow(client, provider)

    assert set(body) == {"success", "url", "state"} and body["success"] is True
    parts = urlsplit(body["url"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == providers.url(ENDPOINTS[provider])
    query = _query(body["url"])
    expected = {
        "client_id": CLIENT_IDS[provider],
        "redirect_uri": redirect_uri(provider),
        "response_type": "code",
        "scope": SCOPES[provider],
        "state": body["state"],
    }
    assert {name: query.get(name) for name in expected} == expected
    if provider in PKCE:
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43  # unpadded base64url of a SHA-256
    else:
        assert "code_challenge" not in query and "code_challenge_method" not in query
    assert ("nonce" in query) is (provider == "google")
    assert set(query) - set(expected) <= {"code_challenge", "code_challenge_method", "nonce"}


async def test_each_start_is_a_new_flow(client: Client, providers: FakeProviders) -> None:
    first, second = [_query((await start_flow(client, "google"))["url"]) for _ in range(2)]
    for name in ("state", "code_challenge", "nonce"):
        assert first[name] != second[name], name


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_flow_is_kept_with_its_verifier_sealed_and_its_id_hashed(
    client: Client, rt: Runtime, providers: FakeProviders, provider: str
) -> None:
    body = await start_flow(client, provider)
    query = _query(body["url"])

    [row] = await _flows(rt)
    flow_id = URLSafeTimedSerializer(rt.settings.secret_key, salt="social-flow").loads(
        body["state"]
    )
    assert row.id_hash == hashlib.sha256(flow_id.encode()).hexdigest() != flow_id
    assert (row.provider, row.redirect_uri, row.used_at) == (provider, redirect_uri(provider), None)
    assert 590 <= (row.expires_at - row.created_at).total_seconds() <= 600
    assert row.nonce == query.get("nonce")
    if provider in PKCE:
        assert row.code_verifier_encrypted is not None
        assert row.code_verifier_encrypted.startswith("v2:")
        verifier = decrypt_text(
            row.code_verifier_encrypted,
            key=rt.settings.encryption_key,
            context=f"social_flow:{row.id_hash}",
        )
        assert 43 <= len(verifier) <= 128 and s256(verifier) == query["code_challenge"]
        assert verifier not in row.code_verifier_encrypted
    else:
        assert row.code_verifier_encrypted is None


async def test_the_linkedin_redirect_uri_is_allowed_for_every_provider_by_default(
    client: Client, providers: FakeProviders
) -> None:
    for provider in PROVIDERS:
        body = await start_flow(client, provider, LINKEDIN_REDIRECT)
        assert _query(body["url"])["redirect_uri"] == LINKEDIN_REDIRECT


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/session/social/github",
        "http://frontend.test/session/social/github/",
        "http://frontend.test/session/social/github?next=https://evil.example",
        "http://frontend.test/session/social/github#x",
        "http://frontend.test/session/social/google",  # another provider's
        "http://frontend.test.evil.example/session/social/github",
        "HTTP://FRONTEND.TEST/session/social/github",
        "//evil.example",
    ],
)
async def test_a_redirect_uri_not_allowed_is_400(
    client: Client, rt: Runtime, providers: FakeProviders, uri: str
) -> None:
    response = await client.get("/social/github/authorize", query_string={"redirect_uri": uri})
    body = await json_error(response, 400)
    assert "redirect_uri" in body["message"]
    assert await _flows(rt) == []


async def test_a_missing_redirect_uri_or_an_unknown_parameter_is_400(
    client: Client, providers: FakeProviders
) -> None:
    await json_error(await client.get("/social/github/authorize"), 400)
    extra = {"redirect_uri": redirect_uri("github"), "scope": "repo"}
    await json_error(await client.get("/social/github/authorize", query_string=extra), 400)


async def test_social_redirect_uris_names_the_allowed_ones(
    serve: Callable[..., Any], providers: FakeProviders
) -> None:
    listed = "https://app.example/oauth/{provider}, https://app.example/callback"
    client = await serve(**providers.settings_overrides(), social_redirect_uris=listed)
    for uri in ("https://app.example/oauth/linkedin", "https://app.example/callback"):
        body = await start_flow(client, "linkedin", uri)
        assert _query(body["url"])["redirect_uri"] == uri
    for uri in (redirect_uri("linkedin"), LINKEDIN_REDIRECT, "https://app.example/oauth/github"):
        response = await client.get(
            "/social/linkedin/authorize", query_string={"redirect_uri": uri}
        )
        await json_error(response, 400)


async def test_an_unknown_provider_is_404(client: Client, providers: FakeProviders) -> None:
    uri = {"redirect_uri": redirect_uri("twitter")}
    await json_error(await client.get("/social/twitter/authorize", query_string=uri), 404)


@pytest.mark.parametrize(
    ("provider", "unset"),
    [
        ("github", "github_oauth_client_secret"),
        ("google", "google_client_id"),
        ("google", "google_client_secret"),
        ("linkedin", "linkedin_client_id"),
        ("facebook", "facebook_client_secret"),
    ],
)
async def test_a_provider_not_configured_is_501(
    serve: Callable[..., Any], providers: FakeProviders, provider: str, unset: str
) -> None:
    client = await serve(**{**providers.settings_overrides(), unset: None})
    response = await client.get(
        f"/social/{provider}/authorize", query_string={"redirect_uri": redirect_uri(provider)}
    )
    body = await json_error(response, 501)
    assert body["message"] == f"{TITLES[provider]} sign-in is not configured."


async def test_starts_are_limited_per_client_ip(
    serve: Callable[..., Any], providers: FakeProviders
) -> None:
    client = await serve(**providers.settings_overrides(), social_authorize_limit_per_ip="2/hour")
    for _ in range(2):
        await start_flow(client, "github")
    query = {"redirect_uri": redirect_uri("github")}
    await retry_after(await client.get("/social/github/authorize", query_string=query))
    other = {"scope_base": {"client": ("203.0.113.9", 40000)}}
    assert (
        await client.get("/social/github/authorize", query_string=query, **other)
    ).status_code == 200
