"""Images for the service benchmark and a fast server for them on loopback.

The images are generated into a temporary folder; a few files are served
under many URLs (``/i/<n>/<file>``) so 10,000 distinct URLs cost no disk.
Debian's nginx serves them when it is installed (``apt-get install nginx``);
otherwise an aiohttp server in a child process does. The server listens on
several loopback addresses (127.0.0.1-4), so the service's per-host download
limit (``FETCH_PER_HOST``) is not what caps it.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")


@dataclass(frozen=True)
class ImageSet:
    names: tuple[str, ...]
    mean_bytes: int


def noisy_jpeg(size: tuple[int, int], quality: int, seed: int) -> bytes:
    """A photo-like JPEG: noise compresses about as badly as a real shelf."""
    layers = [Image.effect_noise(size, 40 + seed * 3 + i * 5) for i in range(3)]
    photo = Image.merge("RGB", layers)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue()


def write_images(
    folder: Path, prefix: str, size: tuple[int, int], quality: int
) -> ImageSet:
    folder.mkdir(parents=True, exist_ok=True)
    names, total = [], 0
    for seed in range(4):
        data = noisy_jpeg(size, quality, seed)
        name = f"{prefix}-{seed}.jpg"
        (folder / name).write_bytes(data)
        names.append(name)
        total += len(data)
    return ImageSet(tuple(names), total // len(names))


def urls(base_port: int, images: ImageSet, count: int) -> list[str]:
    """``count`` distinct URLs spread over the loopback hosts and files."""
    return [
        f"http://{HOSTS[n % len(HOSTS)]}:{base_port}/i/{n}/"
        f"{images.names[n % len(images.names)]}"
        for n in range(count)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def find_nginx() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    types {{ image/jpeg jpg; }}
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
{listen}
        root {root};
        location /i/ {{ rewrite ^/i/[0-9]+/(.+)$ /$1 break; }}
    }}
}}
"""


@contextmanager
def nginx(binary: str, root: Path, tmp: Path, port: int) -> Iterator[str]:
    listen = "\n".join(f"        listen {host}:{port};" for host in HOSTS)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, root=root, listen=listen))
    # nginx's workers drop to an unprivileged user when started as root
    for path in (tmp, root):
        path.chmod(0o755)
    command = [binary, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "e.log")]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield "nginx"
    finally:
        process.terminate()
        process.wait(timeout=10)


def serve_with_aiohttp(root: str, port: int) -> None:
    from aiohttp import web

    files = {p.name: p.read_bytes() for p in Path(root).iterdir()}

    async def image(request: web.Request) -> web.Response:
        body = files.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/i/{n}/{name}", image)
    web.run_app(app, host=list(HOSTS), port=port, print=None, access_log=None)


@contextmanager
def python_server(root: Path, port: int) -> Iterator[str]:
    process = multiprocessing.Process(
        target=serve_with_aiohttp, args=(str(root), port), daemon=True
    )
    process.start()
    try:
        wait_for_port(port)
        yield "aiohttp (nginx not installed)"
    finally:
        process.terminate()
        process.join(timeout=10)


@contextmanager
def static_server(root: Path, tmp: Path) -> Iterator[tuple[str, int]]:
    """Serve ``root`` on loopback; yield the server's name and port."""
    port = free_port()
    binary = find_nginx()
    chosen = nginx(binary, root, tmp, port) if binary else python_server(root, port)
    with chosen as name:
        yield name, port


def rss_kib(pid: int) -> tuple[int, int]:
    """Current and peak resident memory of ``pid``, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
