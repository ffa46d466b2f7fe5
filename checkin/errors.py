"""The one family of "cannot proceed" errors: a status, a stable code and a message a person can act on."""

from __future__ import annotations


class Problem(Exception):
    """Raised when a request cannot be carried out. Answered as JSON under /api, as a page elsewhere."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after  # seconds, sent as Retry-After (a 503 that passes)

    def __reduce__(self):  # survives pickling, so a Problem raised in a worker process arrives whole
        state = {"field": self.field, "retry_after": self.retry_after}
        return (type(self), (self.status, self.code, self.message), state)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def as_json(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


def not_found(what: str, code: str = "not_found") -> Problem:
    return Problem(404, code, f"{what} was not found.")


def not_stored() -> Problem:
    """A write whose commit the disk could not be made to keep (store.sqlite.NotSynced)."""
    return Problem(503, "not_stored", "The server could not make sure this was saved on its disk (a disk error). It "
                   "may or may not be recorded: send it again (a scan sent again with its nonce is never counted "
                   "twice).", retry_after=5)
