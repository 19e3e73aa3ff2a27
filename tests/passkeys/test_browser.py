"""A real browser registers a passkey and signs in with it: headless Chromium with the DevTools
protocol's virtual authenticator (CTAP2, internal, resident keys, user verification), a small
page served by the test at http://localhost:<port> (a secure context, the RP ID `localhost`),
calling the app served by Hypercorn (CORS for the page's origin)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from quart_template.app import create_app
from quart_template.runtime import Runtime
from quart_template.settings import Settings
from tests.fakes.http_server import FakeHTTPServer, FakeRequest, FakeResponse
from tests.support.chromium import Page, chromium_page, find_chromium
from tests.support.factories import signed_in
from tests.support.serving import hypercorn_serving

LOAD_SECONDS = 30.0  # a bound, not an expectation
# The page's script: base64url <-> ArrayBuffer, then the two ceremonies against `api`, each
# answering [status, body] of the app's last answer.
PAGE = """<!doctype html>
<meta charset="utf-8"><title>passkey test page</title>
<script>
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
const bytes = (s) => Uint8Array.from(
  atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const post = async (api, path, body, token) => {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(api + path, {
    method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body)});
  return [response.status, await response.json()];
};
async function registerPasskey(api, token) {
  const [status, o] = await post(api, "/passkeys/register/options", undefined, token);
  if (status !== 200) return [status, o];
  const credential = await navigator.credentials.create({publicKey: {
    ...o, challenge: bytes(o.challenge), user: {...o.user, id: bytes(o.user.id)},
    excludeCredentials: o.excludeCredentials.map((c) => ({...c, id: bytes(c.id)}))}});
  return post(api, "/passkeys/register", {name: "Chromium", credential: {
    id: credential.id, rawId: b64(credential.rawId), type: credential.type,
    response: {
      clientDataJSON: b64(credential.response.clientDataJSON),
      attestationObject: b64(credential.response.attestationObject),
      transports: credential.response.getTransports()}}}, token);
}
async function signIn(api) {
  const [status, o] = await post(api, "/passkeys/login/options", {});
  if (status !== 200) return [status, o];
  const credential = await navigator.credentials.get({publicKey: {
    challenge: bytes(o.challenge), rpId: o.rpId, timeout: o.timeout,
    userVerification: o.userVerification, allowCredentials: []}});
  const r = credential.response;
  return post(api, "/passkeys/login", {credential: {
    id: credential.id, rawId: b64(credential.rawId), type: credential.type,
    response: {
      clientDataJSON: b64(r.clientDataJSON), authenticatorData: b64(r.authenticatorData),
      signature: b64(r.signature), userHandle: r.userHandle ? b64(r.userHandle) : null}}});
}
</script>
<p>passkey test page</p>
"""


async def _page(request: FakeRequest) -> FakeResponse:
    return FakeResponse(body=PAGE.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
async def page_origin() -> AsyncIterator[str]:
    """The test page, on its own loopback port, named `localhost` (a secure context)."""
    find_chromium()  # skip before starting anything
    server = FakeHTTPServer(_page)
    await server.start()
    try:
        yield f"http://localhost:{server.port}"
    finally:
        await server.stop()


async def _loaded(page: Page, origin: str) -> None:
    """Wait until the test page's script is there."""
    ready = f"location.origin === {json.dumps(origin)} && typeof signIn === 'function'"
    async with asyncio.timeout(LOAD_SECONDS):
        while True:
            if await page.evaluate(ready):
                return
            await asyncio.sleep(0.05)  # poll interval while the page loads


async def _run(page: Page, call: str) -> tuple[int, dict[str, object]]:
    status, body = await page.evaluate(call)
    return status, body


async def test_chromium_registers_a_passkey_and_signs_in_with_it(
    make_settings: Callable[..., Settings], page_origin: str, tmp_path: Path
) -> None:
    # The page's origin is the front end's: the RP ID is `localhost`, CORS lets it call.
    app = create_app(make_settings(frontend_url=page_origin))
    async with hypercorn_serving(app) as base:
        rt: Runtime = app.extensions["runtime"]
        user = await signed_in(rt, email="chromium@example.com")
        api = json.dumps(base.replace("127.0.0.1", "localhost"))
        async with chromium_page(tmp_path) as page:
            await page.call("WebAuthn.enable")
            added = await page.call(
                "WebAuthn.addVirtualAuthenticator",
                options={
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                },
            )
            await page.call("Page.navigate", url=f"{page_origin}/")
            await _loaded(page, page_origin)
            status, stored = await _run(page, f"registerPasskey({api}, {json.dumps(user.token)})")
            assert status == 201, stored
            assert stored["name"] == "Chromium"
            held = await page.call(
                "WebAuthn.getCredentials", authenticatorId=added["authenticatorId"]
            )
            assert [c["isResidentCredential"] for c in held["credentials"]] == [True]
            status, signed = await _run(page, f"signIn({api})")
    assert status == 200, signed
    assert signed["user"]["email"] == "chromium@example.com"  # type: ignore[index]
    assert signed["user"]["access_token"]  # type: ignore[index]
