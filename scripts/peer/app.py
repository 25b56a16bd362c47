"""Cruddur's feed, posting and health in the best Python stack for it: the peer `scripts/bench` measures against.

Starlette on uvicorn (uvloop, httptools; the bench runs 2 workers), asyncpg with a pool of 8 connections per worker,
orjson. It runs the exact SQL the server prepares (`cruddur db statements --json`, passed as a file in
PEER_STATEMENTS; asyncpg prepares each statement once per connection) and answers with the same JSON, `Link` header
and status codes for the requests the bench makes. It validates what the bench sends, as the server does, so that
neither side skips work. PEER_DATABASE_HOST/PORT/USER/NAME say where the database is (a unix socket folder works).
"""
import contextlib
import datetime
import json
import os

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

STATEMENTS = {s["name"]: s["sql"] for s in json.load(open(os.environ["PEER_STATEMENTS"]))}
FIRST_PAGE = STATEMENTS["cruddur_home_feed_first_page"]
AFTER_CURSOR = STATEMENTS["cruddur_home_feed_after_cursor"]
CREATE = STATEMENTS["cruddur_create_activity"]
TTLS = {"30-days": 30 * 86400, "7-days": 7 * 86400, "3-days": 3 * 86400, "1-day": 86400,
        "12-hours": 12 * 3600, "3-hours": 3 * 3600, "1-hour": 3600}
# The bench's rate limit: checked on every post, never reached (as the server runs in the bench).
RATE_POSTS, RATE_WINDOW = 1_000_000_000, 3600
DEFAULT_LIMIT, MAXIMUM_LIMIT = 20, 40
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
JSON = "application/json; charset=utf-8"

pool = None


def iso8601(micros):
    moment = EPOCH + datetime.timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error(status, code, message):
    return Response(orjson.dumps({"error": code, "message": message}), status_code=status, media_type=JSON)


@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(
        host=os.environ["PEER_DATABASE_HOST"], port=int(os.environ["PEER_DATABASE_PORT"]),
        user=os.environ["PEER_DATABASE_USER"], database=os.environ["PEER_DATABASE_NAME"], min_size=8, max_size=8)
    try:
        yield
    finally:
        await pool.close()


async def home(request):
    raw_limit = request.query_params.get("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        if not raw_limit.isdigit() or int(raw_limit) == 0:
            return error(400, "invalid_limit", "limit must be a positive whole number.")
        limit = min(int(raw_limit), MAXIMUM_LIMIT)
    token = request.query_params.get("cursor")
    if token is None:
        rows = await pool.fetch(FIRST_PAGE, limit)
    else:
        micros, _, uuid = token.partition("_")
        if not micros.isdigit() or len(micros) > 20 or len(uuid) != 36:
            return error(400, "invalid_cursor", "cursor is not one this server issued.")
        rows = await pool.fetch(AFTER_CURSOR, iso8601(int(micros)), uuid.lower(), limit)
    page = [{"uuid": r[0], "display_name": r[1], "handle": r[2], "message": r[3], "replies_count": r[4],
             "reposts_count": r[5], "likes_count": r[6], "reply_to_activity_uuid": r[7],
             "expires_at": iso8601(r[8]), "created_at": iso8601(r[9])} for r in rows]
    headers = {}
    if len(rows) == limit:
        headers["Link"] = f'</api/activities/home?limit={limit}&cursor={rows[-1][9]}_{rows[-1][0]}>; rel="next"'
    return Response(orjson.dumps(page), media_type=JSON, headers=headers)


async def create(request):
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return error(415, "unsupported_media_type", "Send the post as Content-Type: application/json.")
    body = await request.body()
    if len(body) > 16 * 1024:
        return error(413, "body_too_large", "The request body is larger than 16384 bytes.")
    try:
        draft = orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(400, "invalid_json", "The request body is not valid JSON.")
    if not isinstance(draft, dict) or any(not isinstance(draft.get(k), (str, type(None))) for k in ("user_handle", "message", "ttl")):
        return error(400, "invalid_field_type", "Fields must be strings.")
    handle, message, ttl = draft.get("user_handle") or "", draft.get("message") or "", draft.get("ttl")
    codes = []
    if not handle.strip():
        codes.append("user_handle_blank")
    if not message.strip():
        codes.append("message_blank")
    elif len(message) > 280:
        codes.append("message_exceed_max_chars")
    if ttl not in TTLS:
        codes.append("ttl_blank")
    if codes:
        return Response(orjson.dumps({"errors": codes}), status_code=422, media_type=JSON)
    row = await pool.fetchrow(CREATE, handle, None, message, TTLS[ttl], None, RATE_POSTS, RATE_WINDOW)
    if row is None:
        return Response(orjson.dumps({"errors": ["user_handle_not_found"]}), status_code=422, media_type=JSON)
    if row[6] is not None:
        return error(429, "rate_limited", f"try again in {row[6]} seconds.")
    return Response(orjson.dumps({"uuid": row[0], "display_name": row[1], "handle": row[2], "message": row[3],
                                  "created_at": iso8601(row[4]), "expires_at": iso8601(row[5])}), media_type=JSON)


async def health(request):
    await pool.fetchval("SELECT 1")
    return Response(b'{"status":"ok","database":"ok"}', media_type=JSON, headers={"Cache-Control": "no-store"})


app = Starlette(routes=[Route("/api/activities/home", home), Route("/api/activities", create, methods=["POST"]),
                        Route("/api/health", health)],
                lifespan=lifespan)
