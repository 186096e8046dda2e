#!/usr/bin/env python3
"""A p2phttp stand-in for bench/forge.sh: answers every POST at once with the same small JSON for any repository UUID
({"present":false} to checkpresent, a timestamp to gettimestamp, the edge's health probe), so its cost per request is
the same whether the edge serves 10 repositories or 10,000. asyncio, not a thread per connection: the edge keeps a
connection pool per repository, so 10,000 repositories with health probes make 10,000 keep-alive connections.

usage: fixed-backend.py PORT
GET /count answers the number of POSTs answered so far (the edge's probes, over a time, are its idle load).
"""
import asyncio
import signal
import sys

PORT = int(sys.argv[1])
answered = 0


def answer(status, body):
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


async def serve(reader, writer):
    global answered
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            path = target.split("?")[0]
            if method == "GET" and path == "/count":
                writer.write(answer("200 OK", str(answered).encode()))
                await writer.drain()
                continue
            if method != "POST":
                writer.write(answer("404 Not Found", b"{}"))
            elif path.endswith("/checkpresent"):
                writer.write(answer("200 OK", b'{"present":false}'))
            elif path.endswith("/gettimestamp"):
                writer.write(answer("200 OK", b'{"timestamp":1}'))
            else:
                writer.write(answer("404 Not Found", b"{}"))
            answered += 1
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=4096)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


asyncio.run(main())
