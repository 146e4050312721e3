"""``finegrain serve``: a REST service (FastAPI + uvicorn) with micro-batching and a web page.

Example:
    finegrain serve runs/reviews-lora/exports/onnx-int8 --port 8000 --api-key "$KEY"
    curl -s localhost:8000/v1/predict -H "X-API-Key: $KEY" -H "Content-Type: application/json" -d '{"texts": ["great film"]}'
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from finegrain.cli.options import add_base_option
from finegrain.errors import ConfigError, RunDirError
from finegrain.serving.settings import ServeSettings

__all__ = ["add_parser", "run", "app_from_environment"]

_ENVIRONMENT = "FINEGRAIN_SERVE"  # how worker processes (--workers > 1) receive the settings
_METRICS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"  # where prometheus_client keeps each worker's metrics, summed by /metrics
_DEFAULTS = ServeSettings()


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve", help="serve a run or an export over HTTP",
        description="Serve a run or an export (finegrain export) over HTTP: POST /v1/predict, GET /health,"
        " /ready, /metrics (Prometheus), /docs (OpenAPI) and a web page at /. Concurrent requests are"
        " gathered into micro-batches.",
        epilog="Example: finegrain serve runs/bbc-full --port 8000 --api-key s3cret")
    parser.add_argument("path", metavar="RUN_OR_EXPORT", help="a run directory or an export folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes, each with its own model; /metrics sums them (default 1)")
    parser.add_argument("--max-batch", type=int, default=_DEFAULTS.max_batch,
                        help=f"texts per model call (default {_DEFAULTS.max_batch}; 1 = no batching)")
    parser.add_argument("--max-wait-ms", type=float, default=_DEFAULTS.max_wait_ms,
                        help=f"how long a batch waits to fill up, in ms (default {_DEFAULTS.max_wait_ms:g})")
    parser.add_argument("--forward-batch", type=int, default=_DEFAULTS.forward_batch,
                        help="texts per forward pass; a larger micro-batch runs length-sorted in chunks"
                             f" (default {_DEFAULTS.forward_batch})")
    parser.add_argument("--max-texts", type=int, default=_DEFAULTS.max_texts,
                        help=f"texts per request (default {_DEFAULTS.max_texts}; more: 413)")
    parser.add_argument("--max-chars", type=int, default=_DEFAULTS.max_chars,
                        help=f"characters per text (default {_DEFAULTS.max_chars}; more: 413)")
    parser.add_argument("--api-key", default=os.environ.get("FINEGRAIN_API_KEY"),
                        help="require this key in X-API-Key (default: $FINEGRAIN_API_KEY; none: open)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check the options, the model path and the port, then run uvicorn until Ctrl-C / SIGTERM."""
    settings = _settings(args)
    _check_path(Path(args.path))
    _check_port(args.host, args.port)  # before the model loads, which can take a while
    import uvicorn

    options = dict(host=args.host, port=args.port, timeout_graceful_shutdown=30, log_level="info")
    if args.workers == 1:
        uvicorn.run(_build_app(args.path, settings, args.base), **options)
        return 0
    # spawned workers inherit the environment; prometheus_client reads its variable when imported there
    spec = json.dumps({"path": args.path, "settings": settings, "base": args.base})
    with _metrics_folder() as folder, _environment({_ENVIRONMENT: spec, _METRICS_FOLDER: folder}):
        uvicorn.run("finegrain.cli.serve:app_from_environment", factory=True, workers=args.workers, **options)
    return 0


def app_from_environment():
    """The app of one worker process (uvicorn --workers imports it by name)."""
    spec = json.loads(os.environ[_ENVIRONMENT])
    return _build_app(spec["path"], spec["settings"], spec.get("base"), metrics_folder=os.environ[_METRICS_FOLDER])


def _build_app(path: str, settings: dict, base: str | None = None, metrics_folder: str | None = None):
    from finegrain.serving.app import ServeSettings, create_app
    from finegrain.serving.export import open_predictor

    return create_app(open_predictor(path, base=base), ServeSettings(**settings), source=path,
                      metrics_folder=metrics_folder)


@contextmanager
def _metrics_folder() -> Iterator[str]:
    """A fresh folder per server: files left by an earlier one would be summed into its counters."""
    folder = tempfile.mkdtemp(prefix="finegrain-metrics-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in os.environ, then restore what was there (run() may be called in-process)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_port(host: str, port: int) -> None:
    """Bind host:port and let go, as uvicorn binds it (SO_REUSEADDR), so a taken port is said at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's choice too
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(f"{address} is already in use: another process listens on it.", where="--port",
                                  hint=f"give another --port, or stop the process that holds port {port}"
                                       f" (ss -ltnp 'sport = :{port}' shows which).") from None
            raise ConfigError(f"cannot listen on {address}: {error.strerror or error}.", where="--host",
                              hint="give an address of this machine (127.0.0.1; 0.0.0.0 for all) and a port of"
                                   " 1024 or more (lower ones need root).") from None


def _settings(args: argparse.Namespace) -> dict:
    for flag, value, low in (("--workers", args.workers, 1), ("--max-batch", args.max_batch, 1),
                             ("--forward-batch", args.forward_batch, 1),
                             ("--max-texts", args.max_texts, 1), ("--max-chars", args.max_chars, 1),
                             ("--max-wait-ms", args.max_wait_ms, 0), ("--port", args.port, 0)):
        if value < low:
            raise ConfigError(f"{flag} must be at least {low} (got {value}).", where=flag)
    if args.api_key is not None and not args.api_key.strip():
        raise ConfigError("--api-key is empty.", where="--api-key", hint="give a key, or leave the option out.")
    return {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "forward_batch": args.forward_batch,
            "api_key": args.api_key,
            "max_texts": args.max_texts, "max_chars": args.max_chars}


def _check_path(path: Path) -> None:
    if not path.is_dir():
        raise RunDirError(f"'{path}' does not exist or is not a folder.",
                          hint="give a run directory (finegrain train) or an export folder (finegrain export).")
    if not (path / "export.json").is_file() and not (path / "config.yaml").is_file():
        raise RunDirError(f"'{path}' is neither a finegrain run nor an export.",
                          hint="give a run directory (finegrain train) or an export folder (finegrain export).")
