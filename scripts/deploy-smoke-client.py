#!/usr/bin/env python3
"""The WebSocket half of the deployment smoke test (scripts/deploy-smoke runs it with the
.venv-ministack Python, which has `websockets`).

    deploy-smoke-client.py WS_URL ALICE_TOKEN BOB_TOKEN

WS_URL is the deployed stage's WebSocket URL without a query (on ministack
ws://127.0.0.1:PORT/_aws/execute-api/{apiId}/{stage}). Alice and Bob connect with their UserSigs
(through the deployed REQUEST authorizer and $connect function), both answer sys.ping, Alice sends Bob
a text message (the deployed message function stores it in DynamoDB and pushes it to Bob over
@connections), Bob receives msg.new, replies, Alice receives that, and msg.history shows both messages
in seq order. With CIRRUS_SMOKE_MEDIA=1 (scripts/deploy-smoke; not scripts/invoke-test, whose moto
sends no S3 notifications), media too: Alice asks media.upload for a URL, PUTs a PNG to the bucket
with it, the bucket's ObjectCreated notification runs the deployed media function (renditions,
manifest), media.download then serves her a 198 px thumbnail, and a message carrying the media id
is accepted. With CIRRUS_SMOKE_CALLBACKS=HTTP_API_BASE (and CIRRUS_SMOKE_APP_ID,
CIRRUS_SMOKE_ADMIN_SIG: the administrator's UserSig), callbacks too: before anyone connects, the
deployed api function stores a callback configuration (POST /v4/cirrus_callback/set_config) naming
a receiver this script runs on 127.0.0.1; Alice's first message must then reach it inline as
C2C.CallbackBeforeSendMsg before its ack (the message function's call) and later as
C2C.CallbackAfterSendMsg (a job on the push queue that the push function, run by the queue's event
source mapping, delivers), both signed with the configured token.
Exits 1 with a reason on the first thing that does not happen, within TIMEOUT seconds each.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import urllib.parse
import struct
import sys
import time
import urllib.request
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

# Per step; a cold Lambda start on ministack is ~1 s. scripts/invoke-test raises it: there the first
# invocation of each function may still be compiling it.
TIMEOUT = float(os.environ.get("CIRRUS_SMOKE_STEP_TIMEOUT", "30"))


class SmokeFailure(Exception):
    pass


async def open_as(url: str, user: str, token: str):
    try:
        ws = await asyncio.wait_for(connect(f"{url}?token={token}", open_timeout=TIMEOUT), TIMEOUT)
    except InvalidStatus as refused:
        raise SmokeFailure(f"{user}: the handshake was refused with HTTP {refused.response.status_code}")
    print(f"  {user}: connected")
    return ws


async def next_frame(ws, user: str, want) -> dict:
    """The next frame `want` accepts; other frames are printed and skipped."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SmokeFailure(f"{user}: nothing matching arrived within {TIMEOUT:.0f} s")
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            raise SmokeFailure(f"{user}: nothing matching arrived within {TIMEOUT:.0f} s")
        frame = json.loads(raw)
        if want(frame):
            return frame
        print(f"  {user}: (skipped) {raw[:200]}")


async def request(ws, user: str, action: str, data: dict | None = None) -> dict:
    req_id = uuid.uuid4().hex[:12]
    frame = {"action": action, "reqId": req_id}
    if data is not None:
        frame["data"] = data
    await ws.send(json.dumps(frame))
    reply = await next_frame(ws, user, lambda f: f.get("type") == "reply" and f.get("reqId") == req_id)
    if not reply.get("ok"):
        raise SmokeFailure(f"{user}: {action} failed: {json.dumps(reply.get('error'))}")
    return reply.get("data") or {}


def text_of(message: dict) -> str:
    return " ".join(e.get("text", "") for e in message.get("body", []) if e.get("type") == "text")


async def exchange(sender, sender_name: str, receiver, receiver_name: str, text: str) -> dict:
    ack = await request(sender, sender_name, "msg.send", {
        "to": {"type": "c2c", "id": receiver_name},
        "clientMsgId": uuid.uuid4().hex,
        "body": [{"type": "text", "text": text}],
    })
    print(f"  {sender_name} -> {receiver_name}: acked seq {ack.get('seq')} msgId {ack.get('msgId')}")
    event = await next_frame(receiver, receiver_name,
                             lambda f: f.get("type") == "event" and f.get("event") == "msg.new")
    message = event.get("data") or {}
    if message.get("from") != sender_name or text_of(message) != text or message.get("msgId") != ack.get("msgId"):
        raise SmokeFailure(f"{receiver_name}: unexpected msg.new {json.dumps(message)[:300]}")
    print(f"  {receiver_name}: msg.new from {sender_name}: {text!r}")
    return ack


def png(width: int, height: int) -> bytes:
    """An RGB PNG with a gradient, written by hand (no imaging library in this venv)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x % 256, y % 256, 90)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def http(signed: dict, body: bytes | None = None) -> bytes:
    """Makes the request a presigned media.upload / media.download reply describes."""
    req = urllib.request.Request(signed["url"], data=body, method=signed["method"])
    for name, value in (signed.get("headers") or {}).items():
        if name.lower() != "content-length":  # urllib sends the body's own length
            req.add_header(name, value)
    with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
        return answer.read()


async def media(alice) -> None:
    """Upload through a presigned PUT, processing by the media function on the bucket's
    notification, download of the thumbnail, a message carrying the media id."""
    image = png(400, 300)
    upload = await request(alice, "alice", "media.upload",
                           {"kind": "image", "contentType": "image/png", "size": len(image)})
    media_id = upload["mediaId"]
    await asyncio.to_thread(http, upload, image)
    print(f"  alice: PUT {len(image)} bytes of PNG to the bucket as {media_id}")
    deadline = time.monotonic() + TIMEOUT
    while True:
        req_id = uuid.uuid4().hex[:12]
        await alice.send(json.dumps({"action": "media.download", "reqId": req_id,
                                     "data": {"mediaId": media_id, "rendition": "thumbnail"}}))
        reply = await next_frame(alice, "alice", lambda f: f.get("type") == "reply" and f.get("reqId") == req_id)
        if reply.get("ok"):
            break
        code = (reply.get("error") or {}).get("code")
        if code != "media_not_ready" or time.monotonic() > deadline:
            raise SmokeFailure(f"alice: media.download answered {code} (the media function did not process "
                               f"the upload within {TIMEOUT:.0f} s?)")
        await asyncio.sleep(0.5)
    thumbnail = reply["data"]
    if (thumbnail.get("width"), thumbnail.get("height")) != (198, 149):
        raise SmokeFailure(f"alice: thumbnail is {thumbnail.get('width')}x{thumbnail.get('height')}, expected 198x149")
    fetched = await asyncio.to_thread(http, thumbnail)
    if not fetched.startswith(b"\xff\xd8") or len(fetched) != thumbnail.get("size"):
        raise SmokeFailure(f"alice: the thumbnail's {len(fetched)} bytes are not the JPEG media.download described")
    print(f"  alice: media function made a 198x149 thumbnail ({len(fetched)} bytes of JPEG), downloaded")
    ack = await request(alice, "alice", "msg.send", {
        "to": {"type": "c2c", "id": "bob"}, "clientMsgId": uuid.uuid4().hex,
        "body": [{"type": "image", "format": "png", "original": {"mediaId": media_id}}],
    })
    print(f"  alice -> bob: an image message with the media id, acked seq {ack.get('seq')}")


CALLBACK_TOKEN = "smoke-callback-token"


class CallbackReceiver:
    """The app's callback server: records each call's query and body and allows it."""

    def __init__(self) -> None:
        calls: list[tuple[dict, dict]] = []
        self.calls = calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                calls.append((query, body))
                answer = json.dumps({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/im/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, command: str) -> list[dict]:
        """The bodies of `command`'s calls so far, each checked for Tencent's Sign."""
        bodies = []
        for query, body in list(self.calls):
            if query.get("CallbackCommand") != command:
                continue
            sign = hashlib.sha256(f"{CALLBACK_TOKEN}{query.get('RequestTime')}".encode()).hexdigest()
            if query.get("Sign") != sign or body.get("CallbackCommand") != command:
                raise SmokeFailure(f"{command}: the call's Sign or command does not verify: {query}")
            bodies.append(body)
        return bodies


def configure_callbacks(api_base: str, receiver: CallbackReceiver) -> None:
    query = urllib.parse.urlencode({
        "sdkappid": os.environ["CIRRUS_SMOKE_APP_ID"], "identifier": "administrator",
        "usersig": os.environ["CIRRUS_SMOKE_ADMIN_SIG"], "random": "1", "contenttype": "json",
    })
    config = {"Config": {"url": receiver.url, "token": CALLBACK_TOKEN, "commands": {
        "C2C.CallbackBeforeSendMsg": {}, "C2C.CallbackAfterSendMsg": {}}}}
    request = urllib.request.Request(f"{api_base}/v4/cirrus_callback/set_config?{query}",
                                     data=json.dumps(config).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        answer = json.loads(response.read())
    if answer.get("ActionStatus") != "OK":
        raise SmokeFailure(f"cirrus_callback/set_config failed: {answer}")
    print(f"  administrator: callbacks configured through the HTTP API, receiver {receiver.url}")


def check_callbacks(receiver: CallbackReceiver, ack: dict, text: str) -> None:
    def is_first(body: dict) -> bool:
        texts = [e.get("MsgContent", {}).get("Text") for e in body.get("MsgBody", [])]
        return body.get("From_Account") == "alice" and body.get("To_Account") == "bob" and texts == [text]

    if not any(is_first(body) for body in receiver.of("C2C.CallbackBeforeSendMsg")):
        raise SmokeFailure("alice's message was acked without its C2C.CallbackBeforeSendMsg")
    print("  callback receiver: C2C.CallbackBeforeSendMsg came before the ack, signed")
    deadline = time.monotonic() + TIMEOUT
    while not any(is_first(body) and body.get("MsgKey") == ack.get("msgId")
                  for body in receiver.of("C2C.CallbackAfterSendMsg")):
        if time.monotonic() > deadline:
            raise SmokeFailure(f"no C2C.CallbackAfterSendMsg within {TIMEOUT:.0f} s (push queue -> push function)")
        time.sleep(0.2)
    print("  callback receiver: C2C.CallbackAfterSendMsg came through the push queue and function")


async def main(url: str, alice_token: str, bob_token: str) -> None:
    api_base = os.environ.get("CIRRUS_SMOKE_CALLBACKS")
    receiver = CallbackReceiver() if api_base else None
    if receiver:
        configure_callbacks(api_base, receiver)
    alice = await open_as(url, "alice", alice_token)
    bob = await open_as(url, "bob", bob_token)
    try:
        for ws, user in ((alice, "alice"), (bob, "bob")):
            pong = await request(ws, user, "sys.ping")
            print(f"  {user}: sys.ping answered, server time {pong.get('time')}")
        hello = f"hello bob {uuid.uuid4().hex[:6]}"
        first = await exchange(alice, "alice", bob, "bob", hello)
        if receiver:
            check_callbacks(receiver, first, hello)
        second = await exchange(bob, "bob", alice, "alice", "hi alice")
        if not (first.get("seq"), second.get("seq")) == (1, 2):
            raise SmokeFailure(f"seqs {first.get('seq')}, {second.get('seq')}: expected 1, 2 on a fresh stack")
        history = await request(alice, "alice", "msg.history", {"conversationId": "C2Cbob"})
        texts = [text_of(m) for m in history.get("messages", [])]
        if texts != [hello, "hi alice"]:
            raise SmokeFailure(f"alice: msg.history C2Cbob has {texts}, expected {[hello, 'hi alice']}")
        print("  alice: msg.history C2Cbob has both messages in seq order")
        if os.environ.get("CIRRUS_SMOKE_MEDIA") == "1":
            await media(alice)
    finally:
        await alice.close()
        await bob.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        asyncio.run(main(*sys.argv[1:]))
    except (SmokeFailure, OSError) as failure:
        print(f"deploy-smoke: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    print("deploy-smoke: two users exchanged messages through the deployed functions")
