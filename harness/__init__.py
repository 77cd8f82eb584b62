"""fma-harness: genre recognition on the Free Music Archive, from metadata to submissions."""

from harness.errors import DataError, HarnessError, ParameterError

__version__ = "0.1.0"
__all__ = ["DataError", "HarnessError", "ParameterError", "__version__"]
