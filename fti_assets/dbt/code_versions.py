"""Code versions of dbt models that change with everything that changes their SQL.

dagster-dbt hashes a model's own SQL only; here the hash also covers the macros it calls
(recursively), its config and the project's vars, so editing a macro marks every model that
uses it, and everything downstream, stale in the UI.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fti_assets.manifest import macro_closure


def node_code_version(manifest: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    macros = macro_closure(manifest, list(node.get("depends_on", {}).get("macros", [])))
    config = {k: v for k, v in node.get("config", {}).items() if k not in {"meta", "tags", "docs"}}
    payload = {
        "sql": node.get("raw_code", ""),
        "macros": {m: manifest["macros"][m].get("macro_sql", "") for m in macros},
        "config": config,
        "vars": manifest.get("metadata", {}).get("vars", {}) or node.get("config", {}).get("vars", {}),
        "columns": {name: col.get("data_type") for name, col in node.get("columns", {}).items()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
