"""Content-addressed model artifacts: skops files named by their sha256.

Loading checks the bytes against the hash the registry recorded, then refuses any type not
in TRUSTED_TYPES, before anything is deserialised. The list is reviewed code, never read
from the artifact, and `trusted=True` is never used (CVE-2024-37065).
"""

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import skops.io as sio

# Types a fitted training pipeline needs beyond those skops trusts by default (scikit-learn's
# own estimators and transformers). Anything new must be reviewed and added here before
# models that need it can be loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class ArtifactRefused(RuntimeError):
    """The artifact does not match its registry row, or needs types nobody reviewed."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(model: Any, store: Path) -> tuple[str, str]:
    """Write the model as `<sha256>.skops` (temp file, fsync, atomic rename); returns the hash
    and the file name relative to the store. Saving the same model twice writes one file."""
    data = sio.dumps(model)
    digest = sha256(data)
    name = f"{digest}.skops"
    store.mkdir(parents=True, exist_ok=True)
    remove_abandoned_saves(store)
    if not (store / name).exists():
        with tempfile.NamedTemporaryFile(dir=store, prefix=f".saving-{os.getpid()}-", delete=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600: readable like any artifact
        os.replace(handle.name, store / name)
    return digest, name


def remove_abandoned_saves(store: Path) -> list[Path]:
    """Delete the temp files of saves whose process died before the rename (a killed run).
    They are never read as models (only `<sha256>.skops` names are), but they take space."""
    removed = []
    for path in store.glob(".saving-*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def verify(store: Path, name: str, expected_sha256: str) -> None:
    """Raise ArtifactRefused unless the stored file exists and hashes to `expected_sha256`."""
    path = store / name
    if not path.exists():
        raise ArtifactRefused(f"model artifact {path} is missing from the model store")
    actual = sha256(path.read_bytes())
    if actual != expected_sha256:
        raise ArtifactRefused(f"model artifact {path} has sha256 {actual}, the registry expects {expected_sha256}")


def load(store: Path, name: str, expected_sha256: str) -> Any:
    """Load an artifact after checking its hash and its types; raises ArtifactRefused."""
    path = store / name
    if not path.exists():
        raise ArtifactRefused(f"model artifact {path} is missing from the model store")
    # One read: the bytes that were hashed are the bytes that get loaded.
    data = path.read_bytes()
    actual = sha256(data)
    if actual != expected_sha256:
        raise ArtifactRefused(
            f"model artifact {path} has sha256 {actual}, the registry expects {expected_sha256}: refusing to load it"
        )
    untrusted = set(sio.get_untrusted_types(data=data))
    unknown = untrusted - set(TRUSTED_TYPES)
    if unknown:
        raise ArtifactRefused(
            f"model artifact {path} needs types outside TRUSTED_TYPES: {sorted(unknown)}; "
            "review them and add them to fti_assets/stateful/model_store.py to load it"
        )
    return sio.loads(data, trusted=sorted(untrusted))
