"""The application's typed state: the keys under which `create_app` keeps its parts."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from server.config import ServerConfig
from server.operations.metrics import Metrics
from server.stores.screenshots import ScreenshotStore
from server.stores.store import Store
from server.streaming.scheduler import Scheduler
from server.streaming.sse import Subscribers

CONFIG: Final = web.AppKey("config", ServerConfig)
STORE: Final = web.AppKey("store", Store)
SCHEDULER: Final = web.AppKey("scheduler", Scheduler)
SUBSCRIBERS: Final = web.AppKey("subscribers", Subscribers)
SCREENSHOTS: Final = web.AppKey("screenshots", ScreenshotStore)
METRICS: Final = web.AppKey("metrics", Metrics)
