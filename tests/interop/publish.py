"""Publishes one event to an sse-views channel from Python, with nothing but the standard
library: a RESP PUBLISH of the JSON envelope the README documents.

    python3 publish.py PORT CHANNEL EVENT ID DATA
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


def main() -> None:
    port, channel, event, event_id, data = sys.argv[1:6]
    envelope = json.dumps({"$sse": 1, "event": event, "id": event_id, "data": data})
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as conn:
        conn.sendall(resp("PUBLISH", channel, envelope))
        reply = conn.recv(64)
    if not reply.startswith(b":"):
        sys.exit(f"unexpected reply: {reply!r}")
    print(reply.decode().strip())


if __name__ == "__main__":
    main()
