#!/usr/bin/env python3
"""A loopback TCP proxy that counts the bytes going through it.

usage: proxy.py UPSTREAM_PORT PORT_FILE [LIFETIME_SECONDS]
Listens on 127.0.0.1 (a free port) and forwards every connection to
127.0.0.1:UPSTREAM_PORT. Writes "LISTEN_PORT CONTROL_PORT" to PORT_FILE once
both listen. On the control port, a line "STATS" is answered, as soon as no
forwarded connection is open any more (or after 10 s), with
"DOWN UP CONNECTIONS": the payload bytes sent server to client and client to
server, and the connections accepted, since the proxy started. A line "PEAK"
is answered at once with the most connections open at the same time since
the last PEAK (or the start), and starts counting again. It stops by itself
after LIFETIME_SECONDS (default 3600)."""
import asyncio
import sys

UPSTREAM = int(sys.argv[1])
PORT_FILE = sys.argv[2]
LIFETIME = float(sys.argv[3]) if len(sys.argv) > 3 else 3600

down = up = connections = active = peak = 0
idle = None  # asyncio.Event, set while no connection is open


async def pump(reader, writer, direction):
    global down, up
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if direction == "down":
                down += len(data)
            else:
                up += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def forward(client_r, client_w):
    global connections, active, peak
    connections += 1
    active += 1
    peak = max(peak, active)
    idle.clear()
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", UPSTREAM)
        await asyncio.gather(pump(client_r, server_w, "up"), pump(server_r, client_w, "down"))
        server_w.close()
    except (ConnectionError, OSError):
        pass
    finally:
        client_w.close()
        active -= 1
        if active == 0:
            idle.set()


async def control(reader, writer):
    global peak
    line = await reader.readline()
    if line.strip() == b"PEAK":
        writer.write(b"%d\n" % peak)
        peak = active
        await writer.drain()
    if line.strip() == b"STATS":
        try:
            await asyncio.wait_for(idle.wait(), 10)
        except asyncio.TimeoutError:
            pass
        writer.write(b"%d %d %d\n" % (down, up, connections))
        await writer.drain()
    writer.close()


async def main():
    global idle
    idle = asyncio.Event()
    idle.set()
    fwd = await asyncio.start_server(forward, "127.0.0.1", 0)
    ctl = await asyncio.start_server(control, "127.0.0.1", 0)
    ports = "%d %d\n" % (fwd.sockets[0].getsockname()[1], ctl.sockets[0].getsockname()[1])
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(ports)
    import os
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    await asyncio.sleep(LIFETIME)


asyncio.run(main())
