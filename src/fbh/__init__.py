"""fbh (FedBlockHealth): privacy-preserving federated learning for hospitals.

Subpackages: ``fbh.data``, ``fbh.model``, ``fbh.train``, ``fbh.crypto``,
``fbh.chain``, ``fbh.protocol``; the command line is ``fbh`` (``fbh.cli``).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
