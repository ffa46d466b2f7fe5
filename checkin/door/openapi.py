"""The OpenAPI description of /api/v1, served at /api/v1/openapi.json.

tests/test_openapi.py holds the API to it with schemathesis: every answer's status, content type and body must be
described here, and a request this description calls valid is never refused for its form.
"""

from __future__ import annotations

from ..bodies import API, STATUS_REPORT
from .offline import STATUS_OVERRULES_MAX, STATUS_QUEUED_MAX
from .payloads import MAX_CODE, MAX_NONCE
from .rules import Reason
from .scanning import DEVICE_METHODS

ERROR_CODES = {
    "invalid_json": "400: the body is not a JSON object in UTF-8",
    "length_required": "411: the Content-Length is not a number",
    "body_too_large": f"413: the body is over {API // 1024} kB ({STATUS_REPORT // 1024} kB for a status report)",
    "code_missing": "422: neither 'code' nor 'participant_id' was sent, or the code is empty",
    "code_too_long": f"422: the scanned text is over {MAX_CODE} characters",
    "code_not_text": "422: the scanned text holds control characters or is not Unicode text",
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
    "not_signed_in": "401: organiser endpoints need a signed-in organiser session (a device token is not one)",
    "not_your_course": "403: the organiser does not organise this course",
    "course_not_found": "404: no such course",
    "not_found": "404: nothing at this address, such as an id in the path that is not a positive whole number "
    "or is too large to be one",
    "method_not_allowed": "405: the address does not take this method; 'Allow' lists the ones it takes",
    "not_stored": "503: the server could not make sure the write reached its disk (a disk error); it may be recorded"
                  " or not: send it again after 'Retry-After' (a scan with its nonce is never counted twice)",
    # Group check-in (units wing)
    "group_checkin_off": "409: group check-in is off for the device's course",
    "not_a_group_leader": "404: the code is not the badge of a unit's leader on the device's course",
    "participant_missing": "422: a group tick needs 'participant_id'",
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "enum": sorted(ERROR_CODES)},
        "message": {"type": "string"},
        "field": {"type": "string"},
    }, "required": ["code", "message"]}},
}
_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
# A device's clock: RFC 3339 with its offset, in a year the server accepts.
_DEVICE_TIME = {"type": "string", "format": "date-time", "pattern": "^(20[0-9]{2}|2100)-"}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**53 - 1}
_PATH_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}  # beyond: 404 not_found
# One visible character at least, and no control characters but the line ends a wedge scanner adds.
_SCANNED_TEXT = "^[\t\n\r ]*[!-~][^\u0000-\u001f\u007f]*[\t\n\r ]*$"
_PERSON = {"type": ["object", "null"], "properties": {
    "name": {"type": "string"}, "unit": {"type": "string"}, "position": {"type": "string"}}}
_SESSION = {"type": "object", "required": ["id", "title", "starts_at", "ends_at"], "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}, "position": {"type": "integer"},
    "starts_at": _TIME, "ends_at": _TIME, "opens_at": _TIME, "late_from": _TIME}}
_DECISION = {"type": "object", "required": ["scan_id", "reason", "accepted"], "properties": {
    "scan_id": {"type": "integer"},
    "reason": {"type": "string", "enum": [r.value for r in Reason if not r.startswith("device_")]},
    "accepted": {"type": "boolean"},
    "replayed": {"type": "boolean", "description": "True when this answers a retried nonce"},
    "participant": _PERSON,
    "session": {"type": ["object", "null"], "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}},
    "first_checked_in_at": _MAYBE_TIME,
    "other_course": {"type": ["object", "null"], "properties": {"title": {"type": "string"}}},
    "scanned_at": _TIME,
    "recorded_at": _TIME,
}}
_ATTENDANCE = {"type": "object", "required": ["course", "sessions", "participants"], "properties": {
    "course": {"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                                                "date": {"type": "string", "format": "date"}}},
    "sessions": {"type": "array", "items": {**_SESSION, "properties": {**_SESSION["properties"], "counts": {
        "type": "object", "additionalProperties": {"type": "integer"}}}}},
    "participants": {"type": "array", "items": {"type": "object", "properties": {
        "participant_id": {"type": "integer"}, **_PERSON["properties"],
        "attendance": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "status": {"type": "string", "enum": ["present", "late", "excused", "absent", "pending", "left_early"]},
            "checked_in_at": _MAYBE_TIME}}}}}},
}}


_GROUP_BODY = {"type": "object", "required": ["code"], "properties": {
    "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE, "pattern": _SCANNED_TEXT,
             "description": "The leader's badge: its code or badge link"},
    "session_id": {**_ID, "description": "Omit for the session open now"}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): _json("Error: see the error codes above", _ERROR) for s in statuses}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_id(name: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": _PATH_ID}]


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
            "organiserSession": {"type": "apiKey", "in": "cookie", "name": "checkin_session",
                                 "description": "A signed-in organiser's session; ignored when a bearer token is sent"},
        }},
        "paths": {
            "/api/v1/scans": {"post": {
                "summary": "Record a scan (camera, wedge scanner, search, offline sync)",
                "security": device,
                "requestBody": _json_body({
                    "type": "object",
                    "anyOf": [{"required": ["code"]}, {"required": ["participant_id"]}],
                    "properties": {
                        "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE, "pattern": _SCANNED_TEXT,
                                 "description": "The QR text: a badge code or badge link"},
                        "participant_id": {**_ID, "description": "Instead of code: a person found by search"},
                        "session_id": {**_ID, "description": "Omit to use the session whose window holds the time"},
                        "nonce": {"type": "string", "minLength": 1, "maxLength": MAX_NONCE,
                                  "pattern": "^[^\u0000-\u001f\u007f]+$",
                                  "description": "Makes a retry harmless: the first answer is returned. Unique per "
                                                 "device; a UUIDv7 (time first, as the scanner sends) is best: "
                                                 "the server's nonce index then grows at its end"},
                        "scanned_at": {**_DEVICE_TIME, "description": "Device time, with offset; used for decisions "
                                       "when method is sync; at most 5 minutes ahead of the server and 2 days old"},
                        "method": {"type": "string", "enum": list(DEVICE_METHODS), "default": "api"},
                        "direction": {"type": "string", "enum": ["in", "out"], "default": "in",
                                      "description": "out: an exit scan (Leaving), when the course asks for them; "
                                      "answers checked_out, not_checked_in, already_checked_out or exit_scans_off"},
                    },
                }),
                "responses": {"200": _json("The decision", _DECISION), **_errors(400, 401, 403, 404, 411, 413, 422, 503)},
            }},
            "/api/v1/scans/{scan_id}/undo": {"post": {
                "summary": "Undo an accepted check-in made by this device, within its undo window",
                "security": device,
                "parameters": _path_id("scan_id"),
                "responses": {"200": _json("Undone", {"type": "object", "required": ["scan_id", "undone"], "properties": {
                    "scan_id": {"type": "integer"}, "undone": {"type": "boolean"}, "undone_at": _TIME}}),
                    **_errors(401, 403, 404, 409, 411, 413)},
            }},
            "/api/v1/participants": {"get": {
                "summary": "Search the device's course by name (3+ letters, diacritics optional), phone or member code",
                "security": device,
                "parameters": [{"name": "q", "in": "query", "required": True, "schema": {
                    "type": "string", "minLength": 3, "maxLength": 100,
                    "pattern": "^[\\s\\S]*[!-~][\\s\\S]*[!-~][\\s\\S]*[!-~][\\s\\S]*$"}}],
                "responses": {"200": _json("At most 10 matches", {
                    "type": "object", "required": ["results"], "properties": {"results": {
                        "type": "array", "maxItems": 10, "items": {"type": "object", "properties": {
                            "participant_id": {"type": "integer"}, **_PERSON["properties"]}}}}}),
                    **_errors(401, 403, 411, 413, 422)},
            }},
            "/api/v1/device": {"get": {
                "summary": "This device: its course, sessions and the session open now",
                "security": device,
                "responses": {"200": _json("Device and course", {
                    "type": "object", "required": ["device", "course", "sessions"], "properties": {
                        "device": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "label": {"type": "string"}, "expires_at": _TIME}},
                        "course": {"type": "object"},
                        "sessions": {"type": "array", "items": _SESSION},
                        "current_session_id": {"type": ["integer", "null"]}, "server_time": _TIME}}),
                    **_errors(401, 403, 411, 413)},
            }},
            "/api/v1/sessions/{session_id}/count": {"get": {
                "summary": "The door's counter: check-ins in a session, in all and by this device",
                "security": device,
                "parameters": _path_id("session_id"),
                "responses": {"200": _json("Counts", {"type": "object", "properties": {
                    "session_id": {"type": "integer"}, "checked_in": {"type": "integer"},
                    "this_device": {"type": "integer"}}}),
                    **_errors(401, 403, 404, 411, 413)},
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
                        "server_time": _TIME, "salt": {"type": "string"},
                        "device": {"type": "object"}, "course": {"type": "object"},
                        "sessions": {"type": "array", "items": _SESSION},
                        "people": {"type": "array", "description": "[participant_id, name, unit, position]"},
                        "badges": {"type": "array", "description": "[base64url(SHA-256(salt ':' code)[:16]), "
                                   "participant_id, revoked 0|1]"},
                        "checkins": {"type": "array", "description": "[participant_id, session_id, unix time "
                                     "or null when no longer checked in]"}}}),
                    **_errors(401, 403, 411, 413)},
            }},
            "/api/v1/device/status": {"post": {
                "summary": "The device reports its offline queue (shown to organisers) and the scans it admitted "
                "offline that the server judged otherwise at sync",
                "security": device,
                "requestBody": _json_body({
                    "type": "object", "required": ["queued"], "properties": {
                        "queued": {"type": "integer", "minimum": 0, "maximum": STATUS_QUEUED_MAX},
                        "oldest_queued_at": {**_DEVICE_TIME, "type": ["string", "null"]},
                        "last_sync_at": {**_DEVICE_TIME, "type": ["string", "null"]},
                        "overruled": {"type": ["array", "null"], "maxItems": STATUS_OVERRULES_MAX, "items": {
                            "type": "object", "required": ["nonce", "offline_reason"], "properties": {
                                "nonce": {"type": "string", "minLength": 1, "maxLength": MAX_NONCE, "pattern": "^[ -~]+$"},
                                "offline_reason": {"type": "string", "pattern": "^[a-z_]{1,40}$"}}}}}}),
                "responses": {"200": _json("Recorded", {"type": "object", "required": ["recorded"], "properties": {
                    "recorded": {"type": "boolean"}, "server_time": _TIME}}),
                    **_errors(400, 401, 403, 411, 413, 422)},
            }},
            "/api/v1/courses/{course_id}/attendance": {"get": {
                "summary": "A course's attendance: per session counts and each participant's status",
                "security": organiser,
                "parameters": _path_id("course_id"),
                "responses": {"200": _json("Attendance; status is present, late, excused, absent, pending or left_early",
                                           _ATTENDANCE),
                              **_errors(401, 403, 404, 411, 413)},
            }},
            "/api/v1/groups": {"post": {
                "summary": "Group check-in: the unit whose leader's badge was scanned, with each cadre's status in the "
                "session (given, or the one open now); the course must have group check-in on",
                "security": device,
                "requestBody": _json_body(_GROUP_BODY),
                "responses": {"200": _json("The unit", {"type": "object", "required": ["unit", "leader", "cadres"],
                    "properties": {"unit": {"type": "string"}, "leader": {"type": "string"},
                                   "session": {"type": ["object", "null"]},
                                   "cadres": {"type": "array", "items": {"type": "object", "properties": {
                                       "participant_id": {"type": "integer"}, "name": {"type": "string"},
                                       "position": {"type": "string"}, "status": {"type": "string"}}}}}}),
                    **_errors(400, 401, 403, 404, 409, 411, 413, 422)},
            }},
            "/api/v1/groups/checkins": {"post": {
                "summary": "Group check-in: one ticked cadre of the leader's unit, recorded like any scan (method "
                "group, the leader noted); undo it with /scans/{scan_id}/undo",
                "security": device,
                "requestBody": _json_body({**_GROUP_BODY, "required": ["code", "participant_id"], "properties": {
                    **_GROUP_BODY["properties"], "participant_id": {**_ID, "description": "The ticked cadre"},
                    "nonce": {"type": "string", "minLength": 1, "maxLength": MAX_NONCE,
                              "pattern": "^[^\u0000-\u001f\u007f]+$"}}}),
                "responses": {"200": _json("The decision", _DECISION),
                              **_errors(400, 401, 403, 404, 409, 411, 413, 422)},
            }},
            "/api/v1/openapi.json": {"get": {
                "summary": "This description",
                "security": [],
                "responses": {"200": _json("OpenAPI 3.1", {"type": "object", "required": ["openapi", "paths"]}),
                              **_errors(411, 413)},
            }},
        },
    }
