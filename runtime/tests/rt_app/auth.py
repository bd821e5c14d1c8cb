"""``create_user`` as the command line calls it."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from rt_crm import User
from sqlalchemy.orm import Session


def create_user(
    session: Session, *, email: str, password: str, roles: Iterable[str] = (), name: str | None
) -> User:
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise ValueError(f"a user with the e-mail {email} exists already")
    user = User(email=email, name=name or email.partition("@")[0])
    session.add(user)
    session.flush()
    return user
