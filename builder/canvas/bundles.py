"""The builder's bundled browser code (``builder/canvas/bundle/*.js`` and ``*.css``), built from ``builder/frontend``.

``make install`` builds the bundles with esbuild from the committed
``builder/frontend/package-lock.json`` (``npm ci``), and the wheel ships them as
package data, so an installed Lanner needs no node. Panel serves them from
Lanner's own server (``/ui/components/...``, which only serves files beside the
component's module: hence this folder); nothing is fetched from a CDN.
"""

from __future__ import annotations

from pathlib import Path

BUNDLE_DIR = Path(__file__).parent / "bundle"


class BundleMissing(RuntimeError):
    """The JavaScript bundles were not built (a source checkout without ``make install``)."""


def bundle(name: str) -> Path:
    """Path of ``bundle/<name>``; a clear error when the front end was never built."""
    path = BUNDLE_DIR / name
    if not path.is_file():
        raise BundleMissing(f"The builder's JavaScript bundle {name} is missing: run `make install` "
                            "(it builds builder/frontend with npm) or install Lanner from a wheel.")
    return path
