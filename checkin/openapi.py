"""The OpenAPI description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from .rules import Reason

ERROR_CODES = {
    "invalid_json": "400: the body is not a JSON object in UTF-8",
    "body_too_large": "413: the body is over 16 kB",
    "code_missing": "422: neither 'code' nor 'participant_id' was sent, or the code is empty",
    "code_too_long": "422: the scanned text is over 512 characters",
    "code_not_text": "422: the scanned text holds control characters",
    "invalid_field": "422: a field has the wrong type or form ('field' names it)",
    "scanned_at_out_of_range": "422: the device time is over 5 minutes ahead or 2 days behind the server",
    "unknown_session": "422: 'session_id' is not a session of the device's course (404 from /sessions/{id}/count)",
    "participant_not_found": "404: 'participant_id' is not on the device's course",
    "query_too_short": "422: a search needs at least 3 letters",
    "device_token_missing": "401: no bearer token",
    "device_token_invalid": "401: the token is not a paired device's",
    "device_expired": "401: the device's pairing has expired, or an offline scan reached the server after the grace"
                      " that follows the expiry (the attempt is logged)",
    "device_revoked": "403: an organiser revoked the device (the attempt is logged)",
    "scan_not_found": "404: no such scan on this course",
    "scan_not_accepted": "409: only accepted check-ins can be undone",
    "already_undone": "409: the check-in was already undone",
    "not_your_scan": "403: a device may undo only its own check-ins",
    "undo_too_late": "403: the device's undo window has passed",
    "not_signed_in": "401: organiser endpoints need a signed-in organiser session",
    "not_your_course": "403: the organiser does not organise this course",
    "course_not_found": "404: no such course",
}

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "enum": sorted(ERROR_CODES)},
        "message": {"type": "string"},
        "field": {"type": "string"},
    }, "required": ["code", "message"]}},
}
_PERSON = {"type": ["object", "null"], "properties": {
    "name": {"type": "string"}, "unit": {"type": "string"}, "position": {"type": "string"}}}
_SESSION = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "position": {"type": "integer"},
    "starts_at": {"type": "string", "format": "date-time"}, "ends_at": {"type": "string", "format": "date-time"},
    "opens_at": {"type": "string", "format": "date-time"}, "late_from": {"type": "string", "format": "date-time"}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"description": "Error", "content": {"application/json": {"schema": _ERROR}}} for s in statuses}


def document() -> dict:
    device = [{"deviceToken": []}]
    organiser = [{"organiserSession": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "checkin API",
            "version": "1",
            "description": "Scans are decided by one rule; refusals are answered 200 with their reason code. "
            "Requests that cannot be decided get a 4xx with a stable error code.\n\nError codes:\n"
            + "\n".join(f"- `{k}`: {v}" for k, v in ERROR_CODES.items()),
        },
        "components": {"securitySchemes": {
            "deviceToken": {"type": "http", "scheme": "bearer", "description": "A paired usher device's token"},
            "organiserSession": {"type": "apiKey", "in": "cookie", "name": "checkin_session"},
        }},
        "paths": {
            "/api/v1/scans": {"post": {
                "summary": "Record a scan (camera, wedge scanner, search, offline sync)",
                "security": device,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "maxLength": 512, "description": "The QR text: a badge code or badge link"},
                        "participant_id": {"type": "integer", "description": "Instead of code: a person found by search"},
                        "session_id": {"type": "integer", "description": "Omit to use the session whose window holds the time"},
                        "nonce": {"type": "string", "maxLength": 100, "description": "Makes a retry harmless: the first answer is returned"},
                        "scanned_at": {"type": "string", "format": "date-time", "description": "Device time, with offset; used for decisions when method is sync"},
                        "method": {"type": "string", "enum": ["camera", "search", "api", "sync"], "default": "api"},
                    },
                }}}},
                "responses": {
                    "200": {"description": "The decision", "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {
                            "scan_id": {"type": "integer"},
                            "reason": {"type": "string", "enum": [r.value for r in Reason if not r.startswith("device_")]},
                            "accepted": {"type": "boolean"},
                            "replayed": {"type": "boolean", "description": "True when this answers a retried nonce"},
                            "participant": _PERSON,
                            "session": {"type": ["object", "null"]},
                            "first_checked_in_at": {"type": ["string", "null"], "format": "date-time"},
                            "other_course": {"type": ["object", "null"], "properties": {"title": {"type": "string"}}},
                            "scanned_at": {"type": "string", "format": "date-time"},
                            "recorded_at": {"type": "string", "format": "date-time"},
                        },
                    }}}},
                    **_errors(400, 401, 403, 404, 413, 422),
                },
            }},
            "/api/v1/scans/{scan_id}/undo": {"post": {
                "summary": "Undo an accepted check-in made by this device, within its undo window",
                "security": device,
                "parameters": [{"name": "scan_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Undone"}, **_errors(401, 403, 404, 409)},
            }},
            "/api/v1/participants": {"get": {
                "summary": "Search the device's course by name (3+ letters, diacritics optional), phone or member code",
                "security": device,
                "parameters": [{"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 3}}],
                "responses": {"200": _json("At most 10 matches", {
                    "type": "object", "properties": {"results": {"type": "array", "items": {
                        "type": "object", "properties": {"participant_id": {"type": "integer"}, **_PERSON["properties"]}}}}}),
                    **_errors(401, 403, 422)},
            }},
            "/api/v1/device": {"get": {
                "summary": "This device: its course, sessions and the session open now",
                "security": device,
                "responses": {"200": _json("Device and course", {
                    "type": "object", "properties": {"sessions": {"type": "array", "items": _SESSION},
                                                     "current_session_id": {"type": ["integer", "null"]}}}),
                    **_errors(401, 403)},
            }},
            "/api/v1/sessions/{session_id}/count": {"get": {
                "summary": "The door's counter: check-ins in a session, in all and by this device",
                "security": device,
                "parameters": [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json("Counts", {"type": "object", "properties": {
                    "session_id": {"type": "integer"}, "checked_in": {"type": "integer"},
                    "this_device": {"type": "integer"}}}),
                    **_errors(401, 403, 404)},
            }},
            "/api/v1/offline": {"get": {
                "summary": "The device's offline copy of its course: sessions, and per badge a salted SHA-256 of the "
                "code (never the code) with name, unit, position; who is checked in where; a cursor for deltas",
                "security": device,
                "parameters": [{"name": "since", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "The cursor of the copy the device holds: only what changed since"}],
                "responses": {"200": _json("The copy (gzip when accepted); full=false for a delta", {
                    "type": "object", "properties": {
                        "version": {"type": "integer"}, "full": {"type": "boolean"}, "cursor": {"type": "string"},
                        "server_time": {"type": "string", "format": "date-time"}, "salt": {"type": "string"},
                        "device": {"type": "object"}, "course": {"type": "object"},
                        "sessions": {"type": "array", "items": _SESSION},
                        "people": {"type": "array", "description": "[participant_id, name, unit, position]"},
                        "badges": {"type": "array", "description": "[base64url(SHA-256(salt ':' code)[:16]), "
                                   "participant_id, revoked 0|1]"},
                        "checkins": {"type": "array", "description": "[participant_id, session_id, unix time "
                                     "or null when no longer checked in]"}}}),
                    **_errors(401, 403)},
            }},
            "/api/v1/device/status": {"post": {
                "summary": "The device reports its offline queue (shown to organisers) and the scans it admitted "
                "offline that the server judged otherwise at sync",
                "security": device,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["queued"], "properties": {
                        "queued": {"type": "integer", "minimum": 0},
                        "oldest_queued_at": {"type": ["string", "null"], "format": "date-time"},
                        "last_sync_at": {"type": ["string", "null"], "format": "date-time"},
                        "overruled": {"type": "array", "maxItems": 500, "items": {"type": "object", "properties": {
                            "nonce": {"type": "string"}, "offline_reason": {"type": "string"}}}}}}}}},
                "responses": {"200": {"description": "Recorded"}, **_errors(400, 401, 403, 413, 422)},
            }},
            "/api/v1/courses/{course_id}/attendance": {"get": {
                "summary": "A course's attendance: per session counts and each participant's status",
                "security": organiser,
                "parameters": [{"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Attendance; status is present, late, excused, absent or pending"},
                              **_errors(401, 403, 404)},
            }},
        },
    }
