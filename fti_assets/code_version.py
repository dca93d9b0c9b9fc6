"""Code versions for Python assets: a hash of the modules an asset runs, so that editing them
marks the asset (and what reads it) stale in the Dagster UI."""

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).parent


def of_modules(*files: str) -> str:
    """sha256 (16 hex) of the given files, relative to the fti_assets package."""
    digest = hashlib.sha256()
    for name in files:
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]
