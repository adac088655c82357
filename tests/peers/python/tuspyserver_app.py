"""tuspyserver (a tus server written by others, as a FastAPI router) under uvicorn, on 127.0.0.1 at
an ephemeral port, for the transfer crate's tests. Usage: python tuspyserver_app.py DIR

The tus endpoint is http://127.0.0.1:PORT/files (creation: POST /files, uploads: /files/<id>);
each upload is stored as DIR/<id> (the bytes) and DIR/<id>.info (JSON: metadata, size, offset),
with lock files under DIR/.locks; uploads expire after a day (Upload-Expires). Prints "listening PORT" once it accepts connections; stops on
SIGTERM or when stdin closes. Logs go to stderr only.

Quirks of tuspyserver 4.4.3 that a client sees: HEAD answers 400 unless the upload was created
with `filename` and `filetype` (or `name` and `type`) metadata, and echoes only those two keys;
OPTIONS is routed at /files/ only (OPTIONS /files answers 405); no checksum extension
(Upload-Checksum is ignored); a PATCH body is written before its headers are checked, so a
415/412/422 reply may still have advanced the offset, and a PATCH rejected with 400 for running
past Upload-Length leaves the bytes before that point in the data file without counting them;
a second PATCH to an upload while one is in flight stalls the whole server for 30 s, then 503.
"""
import asyncio
import logging
import os
import signal
import socket
import sys
import threading

import uvicorn
from fastapi import FastAPI
from tuspyserver import create_tus_router

MAX_SIZE = 8 * 1024 * 1024 * 1024  # Tus-Max-Size: 8 GiB, far above any test upload


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: python tuspyserver_app.py DIR", file=sys.stderr)
        sys.exit(2)
    directory = os.path.abspath(sys.argv[1])
    os.makedirs(directory, exist_ok=True)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    app = FastAPI()
    app.include_router(
        create_tus_router(prefix="files", files_dir=directory, max_size=MAX_SIZE, days_to_keep=1)
    )

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    # log_config=None keeps uvicorn's access log off stdout, which carries the one line only.
    config = uvicorn.Config(app, log_config=None, access_log=False, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    def watch_stdin() -> None:
        try:
            while os.read(0, 65536):  # the raw fd: a buffered reader would hang interpreter exit
                pass
        except OSError:
            pass
        server.should_exit = True  # uvicorn polls this and shuts down

    threading.Thread(target=watch_stdin, daemon=True).start()

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        sys.stdout.write(f"listening {port}\n")
        sys.stdout.flush()

    # uvicorn catches SIGTERM, shuts down gracefully, then re-raises it to the handler it found:
    # make that handler exit 0 at once, as the node peer does.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    async def run() -> None:
        task = asyncio.create_task(announce())
        await server.serve(sockets=[sock])  # uvicorn handles SIGTERM/SIGINT itself
        task.cancel()

    asyncio.run(run())


if __name__ == "__main__":
    main()
