"""Publishes one event to an sse-views channel from Python, with nothing but the standard
library (a RESP PUBLISH over a socket, standing in for redis-py's `publish`).

    python3 publish.py PORT CHANNEL EVENT ID DATA
        the JSON envelope the README documents
    python3 publish.py --django-sse PORT CHANNEL EVENT DATA [--json]
        exactly what django-sse 0.4.1's `send_event(event, data, channel)` publishes:
        `json.dumps([event, data])`; with `--json`, DATA is parsed as JSON first, so the
        data is a Python object rather than a string
"""

import json
import socket
import sys


def resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def publish(port: str, channel: str, payload: str) -> None:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as conn:
        conn.sendall(resp("PUBLISH", channel, payload))
        reply = conn.recv(64)
    if not reply.startswith(b":"):
        sys.exit(f"unexpected reply: {reply!r}")
    print(reply.decode().strip().lstrip(":"))  # how many subscribers got it


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--django-sse":
        port, channel, event, data = args[1:5]
        if "--json" in args[5:]:
            data = json.loads(data)
        # django_sse/redisqueue.py, send_event: json.dumps([event_name, data])
        publish(port, channel, json.dumps([event, data]))
        return
    port, channel, event, event_id, data = args[:5]
    envelope = json.dumps({"$sse": 1, "event": event, "id": event_id, "data": data})
    publish(port, channel, envelope)


if __name__ == "__main__":
    main()
