"""The playbook: an e-commerce operations handbook as tested Python.

The front door: ``playbook.load(source, month=...)`` reads and validates a shop's tables,
``playbook.load_settings()`` gives the handbook's thresholds, ``playbook.charts`` the house style.
Each chapter has its module (``playbook.inventory``, ``playbook.acquisition`` ...).
"""
from .contract import TABLES
from .errors import DataError, PlaybookError
from .loading import Dataset, latest_full_month, load, open_source
from .settings import Settings, load_settings
from .validation import DataQuality, Issue

__version__ = "0.1.0"
__all__ = ["TABLES", "DataError", "PlaybookError", "Dataset", "latest_full_month", "load", "open_source",
           "Settings", "load_settings", "DataQuality", "Issue", "__version__"]
