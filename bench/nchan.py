"""nginx with the Nchan module on 127.0.0.1: installed when missing, configured in a folder.

Runs as `nginx -p DIR -c DIR/nginx.conf -e DIR/error.log` with every temp path inside
DIR; `/pub` is the publisher location and `/sub` the EventSource subscriber location of
one channel. One worker process, like the one event loop of the servers it is compared with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

MODULE: Final = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
PACKAGES: Final = ("nginx", "libnginx-mod-nchan")
INSTALL_TIMEOUT: Final = 600

CONFIG: Final = """\
load_module {module};
{user}
worker_processes 1;
worker_rlimit_nofile {files};
pid {dir}/nginx.pid;
daemon off;
error_log {dir}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /pub {{
            nchan_publisher;
            nchan_channel_id bench;
            nchan_message_buffer_length 100;
        }}
        location = /sub {{
            nchan_subscriber eventsource;
            nchan_channel_id bench;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    return found if found and MODULE.exists() else None


def ensure_installed() -> str | None:
    """The nginx binary, installing the Debian packages once if needed; None if impossible."""
    binary = nginx_binary()
    if binary is not None:
        return binary
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(
            command, check=False, env=env, capture_output=True, timeout=INSTALL_TIMEOUT
        )
        if done.returncode != 0:
            return None
    return nginx_binary()


def write_config(folder: Path, port: int, connections: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(
        CONFIG.format(
            module=MODULE,
            user="user root;" if os.geteuid() == 0 else "",
            files=connections + 1024,
            connections=connections + 512,
            dir=folder,
            port=port,
        )
    )
    return conf


def command(binary: str, folder: Path, conf: Path) -> list[str]:
    return [binary, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
