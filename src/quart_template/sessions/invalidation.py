"""Whatever changes what a cached caller shows drops it from the token cache, after the commit:
a new version of a person (MFA on or off, a verified email, a new name or password, a takeover)
or of a session (logout, a session ended from the list, a password change or reset), and any
bulk UPDATE or DELETE of either table. Every write path is covered without calling anything:
these hooks register on import (the composition root imports this module) and find the cache
in the session's `info` (see `session_info`).

Bookkeeping statements that change nothing a caller shows (last use, the proof of a
credential) say so with the `BOOKKEEPING` execution options and drop nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, object_session

from quart_template.accounts.models import Person
from quart_template.entities import made_new_version
from quart_template.sessions.cache import EVERYONE, SessionCache
from quart_template.sessions.models import AuthSession

CACHE_KEY = "session_cache"
_CHANGED_KEY = "session_cache_changed"
_BOOKKEEPING_OPTION = "session_cache_bookkeeping"
BOOKKEEPING: dict[str, Any] = {_BOOKKEEPING_OPTION: True}
_TABLES = frozenset({Person.__tablename__, AuthSession.__tablename__})


def session_info(cache: SessionCache) -> dict[str, Any]:
    """What a session factory carries for the hooks below: the cache to invalidate."""
    return {CACHE_KEY: cache}


def _note(session: Session | None, person_id: str) -> None:
    """Remember, until the commit, whose entries the transaction makes stale."""
    if session is not None and CACHE_KEY in session.info:
        session.info.setdefault(_CHANGED_KEY, set()).add(person_id)


@event.listens_for(Person, "after_update")
def _person_updated(mapper: Mapper[Any], connection: Connection, target: Person) -> None:
    if made_new_version(target):
        _note(object_session(target), target.entity_id)


@event.listens_for(AuthSession, "after_update")
def _session_updated(mapper: Mapper[Any], connection: Connection, target: AuthSession) -> None:
    if made_new_version(target):
        _note(object_session(target), target.person_id)


@event.listens_for(Person, "after_delete")
def _person_deleted(mapper: Mapper[Any], connection: Connection, target: Person) -> None:
    _note(object_session(target), target.entity_id)


@event.listens_for(AuthSession, "after_delete")
def _session_deleted(mapper: Mapper[Any], connection: Connection, target: AuthSession) -> None:
    _note(object_session(target), target.person_id)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    """A bulk UPDATE or DELETE of people or sessions may concern anyone."""
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get(_BOOKKEEPING_OPTION):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _TABLES:
        _note(state.session, EVERYONE)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    changed: set[str] | None = session.info.pop(_CHANGED_KEY, None)
    if changed:
        cache: SessionCache = session.info[CACHE_KEY]
        cache.invalidate(changed)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)
