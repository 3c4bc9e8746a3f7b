"""A module of compiled loops, imported the first time it is used, and whether it has been.

numba's import and the load of a cached loop cost a command ~0.5–1 s, worth paying for a long
column and not for a short one. Once this process has loaded the loops, short columns use
them too. Whether numba is in ``sys.modules`` is another question, and the wrong one: another
thread may be importing numba at that moment (an export's numbering thread does, for its first
batch's customer numbers), and a short column would then wait for that import instead of
taking the NumPy or Python path at once.

>>> loops = Loops("json")
>>> loops.loaded
False
>>> loops.module().__name__, loops.loaded
('json', True)
"""

from __future__ import annotations

import importlib
from types import ModuleType


class Loops:
    """The module named ``name``, imported by :meth:`module` on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._module: ModuleType | None = None

    def wanted(self, count: int, worth_from: int) -> bool:
        """Whether ``count`` values should go to these loops: at least ``worth_from`` of them
        (enough to pay for the first load), or any number once the loops are loaded.

        >>> Loops("json").wanted(10, worth_from=4096)
        False
        """
        return count >= worth_from or self.loaded

    @property
    def loaded(self) -> bool:
        """Whether this process has imported the module through :meth:`module` (False while
        another thread is still importing it)."""
        return self._module is not None

    def module(self) -> ModuleType:
        """The module, imported (and its loops loaded from numba's cache) the first time."""
        if self._module is None:
            self._module = importlib.import_module(self.name)
        return self._module
