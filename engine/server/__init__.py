"""``lanner server local``: the all-in-one server process (API, UI mount, scheduler, executor, workers)."""

from engine.server.config import ConfigError, ServerConfig, load_config
from engine.server.process import GracefulPool, LannerServer, run_server

__all__ = ["ConfigError", "GracefulPool", "LannerServer", "ServerConfig", "load_config", "run_server"]
