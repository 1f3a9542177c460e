"""Every data source genotx knows, one module per topic; importing this package registers them all."""

import importlib
import pkgutil

from genotx.data.source import SOURCES

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["SOURCES"]
