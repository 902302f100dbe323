"""FastAPI dependencies: the account behind ``Authorization: Bearer TOKEN`` (401 without), admin (403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tumorscope.serve.accounts import Account, authenticate
from tumorscope.serve.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="the API token `tumorscope users add` printed")


class BadToken(Unauthorized):
    """401 with ``WWW-Authenticate: Bearer`` (the app's handler adds the header)."""


def current_user(request: Request,
                 cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Account:
    if cred is None or cred.scheme.lower() != "bearer":
        raise BadToken("missing API token: send 'Authorization: Bearer TOKEN' (tumorscope users add prints one)")
    account = authenticate(request.app.state.engine, cred.credentials)
    if account is None:
        raise BadToken("invalid or revoked API token")
    return account


def admin_user(user: Annotated[Account, Depends(current_user)]) -> Account:
    if not user.is_admin:
        raise Forbidden(f"user {user.name!r} has role {user.role!r}; this needs role 'admin'")
    return user


User = Annotated[Account, Depends(current_user)]
Admin = Annotated[Account, Depends(admin_user)]
