#!/usr/bin/env python3
"""The WebSocket half of the deployment smoke test (scripts/deploy-smoke runs it with the
.venv-ministack Python, which has `websockets`).

    deploy-smoke-client.py WS_URL ALICE_TOKEN BOB_TOKEN

WS_URL is the deployed stage's WebSocket URL without a query (on ministack
ws://127.0.0.1:PORT/_aws/execute-api/{apiId}/{stage}). Alice and Bob connect with their UserSigs
(through the deployed REQUEST authorizer and $connect function), both answer sys.ping, Alice sends Bob
a text message (the deployed message function stores it in DynamoDB and pushes it to Bob over
@connections), Bob receives msg.new, replies, Alice receives that, and msg.history shows both messages
in seq order. Exits 1 with a reason on the first thing that does not happen, within TIMEOUT seconds each.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

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


async def main(url: str, alice_token: str, bob_token: str) -> None:
    alice = await open_as(url, "alice", alice_token)
    bob = await open_as(url, "bob", bob_token)
    try:
        for ws, user in ((alice, "alice"), (bob, "bob")):
            pong = await request(ws, user, "sys.ping")
            print(f"  {user}: sys.ping answered, server time {pong.get('time')}")
        hello = f"hello bob {uuid.uuid4().hex[:6]}"
        first = await exchange(alice, "alice", bob, "bob", hello)
        second = await exchange(bob, "bob", alice, "alice", "hi alice")
        if not (first.get("seq"), second.get("seq")) == (1, 2):
            raise SmokeFailure(f"seqs {first.get('seq')}, {second.get('seq')}: expected 1, 2 on a fresh stack")
        history = await request(alice, "alice", "msg.history", {"conversationId": "C2Cbob"})
        texts = [text_of(m) for m in history.get("messages", [])]
        if texts != [hello, "hi alice"]:
            raise SmokeFailure(f"alice: msg.history C2Cbob has {texts}, expected {[hello, 'hi alice']}")
        print("  alice: msg.history C2Cbob has both messages in seq order")
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
