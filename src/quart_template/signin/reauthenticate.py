"""Re-authentication of a signed-in person: proving a credential again refreshes the session's
proof, so the factor changes that need a recent one (step-up) are allowed for a while. Each
kind of credential counts its failures where its other checks do, so this is no way around
their limits: a password with the other re-authentications, a code with the second factor."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from quart_template.errors import Forbidden
from quart_template.mfa import recovery, repository
from quart_template.mfa.checks import OTP_SCOPE, accept_code, check_password
from quart_template.request_meta import ClientInfo
from quart_template.runtime import Runtime
from quart_template.security.service import record, record_alone
from quart_template.sessions.caller import PersonSummary, SessionSummary
from quart_template.sessions.proof import record_proof
from quart_template.settings import Settings
from quart_template.signin.second_factor import RECOVERY_SCOPE

INVALID_OTP = "Invalid OTP code."
INVALID_RECOVERY_CODE = "Invalid recovery code."


async def reauthenticate(
    rt: Runtime,
    *,
    person: PersonSummary,
    session: SessionSummary,
    password: str | None = None,
    otp: str | None = None,
    recovery_code: str | None = None,
    client: ClientInfo,
) -> None:
    """Check the one credential given (403 when wrong, counted) and refresh the proof. A code
    is spent: an OTP time step works once for every purpose, a recovery code once at all."""
    if password is not None:
        await check_password(rt, person=person, password=password, client=client)
        async with rt.db() as db, db.begin():
            await record_proof(db, session_id=session.entity_id)
            record(
                db, "reauthenticated", person_id=person.entity_id, client=client, factor="password"
            )
        return
    if otp is not None:
        await _prove(rt, person, session, client, otp=otp)
    else:
        assert recovery_code is not None  # the schema insists on exactly one
        await _prove(rt, person, session, client, recovery_code=recovery_code)


async def _prove(
    rt: Runtime,
    person: PersonSummary,
    session: SessionSummary,
    client: ClientInfo,
    *,
    otp: str | None = None,
    recovery_code: str | None = None,
) -> None:
    """A second factor of an MFA person: spent and the proof refreshed in one transaction."""
    if otp is not None:
        scope, wrong = OTP_SCOPE, INVALID_OTP
    else:
        scope, wrong = RECOVERY_SCOPE, INVALID_RECOVERY_CODE
    await rt.limiter.guard_credentials(client.ip, account=person.email, scope=scope)
    try:
        async with rt.db() as db, db.begin():
            # Person first, then its MFA rows: the lock order of every MFA write.
            current = await repository.lock_person(db, person_id=person.entity_id)
            proved = current is not None and current.mfa_enabled
            if proved and otp is not None:
                proved = await _spend_otp(db, rt.settings, person_id=person.entity_id, otp=otp)
            elif proved and recovery_code is not None:
                proved = await recovery.spend_code(
                    db, person_id=person.entity_id, code=recovery_code
                )
            if proved:
                await record_proof(db, session_id=session.entity_id)
                factor = "otp" if otp is not None else "recovery_code"
                if recovery_code is not None:
                    record(db, "recovery_code_used", person_id=person.entity_id, client=client)
                record(
                    db, "reauthenticated", person_id=person.entity_id, client=client, factor=factor
                )
    except StaleDataError:
        proved = False  # a concurrent request spent the same code
    if not proved:
        await rt.limiter.record_failure(client.ip, account=person.email, scope=scope)
        await record_alone(
            rt, "reauth_failed", person_id=person.entity_id, client=client, scope=scope
        )
        raise Forbidden(wrong)


async def _spend_otp(db: AsyncSession, settings: Settings, *, person_id: str, otp: str) -> bool:
    """Whether `otp` is an unspent code of the person's confirmed method (now spent)."""
    method = await repository.get_otp_method(db, person_id=person_id, lock=True, with_secret=True)
    if method is None or not method.confirmed:
        return False
    return accept_code(method, otp, settings=settings, by=person_id) is not None
