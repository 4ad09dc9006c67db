"""Drive disbatch from Python: ``from disbatch import disBatch; disBatch.DisBatcher(...)``.

The same interface as disBatch's ``DisBatcher`` (``submit``, ``syncTasks``, ``wait_one_task``,
``done``), on top of the ``disbatch`` executable: nothing to install on the nodes, standard
library only, Python 3.8 or later.
"""

from . import disBatch
from .disBatch import DisBatcher, DisBatchError

__all__ = ['disBatch', 'DisBatcher', 'DisBatchError']
