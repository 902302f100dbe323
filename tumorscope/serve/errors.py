"""Errors a client causes, each with its HTTP status; the app answers them as ``{"detail": message}``."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status code it is answered with."""

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadRequest(ServiceError):
    """A damaged file, an unsafe zip, an input the model cannot take (400)."""

    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    """An upload over ``--max-upload`` (413). A zip that would inflate past its limits is an unsafe zip: 400."""

    status = 413


class Malformed(ServiceError):
    """A field the request names wrongly (an unknown decision, explanation method...): 422."""

    status = 422


class UnsupportedMedia(ServiceError):
    """Bytes that are no supported image, volume or zip, whatever the file's name says (415)."""

    status = 415
