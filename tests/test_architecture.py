"""The dependency rules of docs/architecture.md: pipelines meet only in the feature views and
the stateful layer."""

import ast
from pathlib import Path

from fti_assets import settings

PACKAGE = settings.REPO_ROOT / "fti_assets"
PIPELINES = ("feature_pipeline", "training_pipeline", "inference_pipeline", "online_pipeline", "streaming_pipeline")
FORBIDDEN = {
    **{room: tuple(f"fti_assets.{other}" for other in PIPELINES if other != room) for room in PIPELINES},
    "feature_views": ("fti_assets.dbt", *(f"fti_assets.{room}" for room in PIPELINES)),
    "stateful": ("fti_assets.dbt", *(f"fti_assets.{room}" for room in PIPELINES)),
}


def imports(module: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_pipelines_meet_only_in_feature_views_and_stateful():
    reaches = [
        f"{module.relative_to(PACKAGE)} imports {name}"
        for package, forbidden in FORBIDDEN.items()
        for module in sorted((PACKAGE / package).rglob("*.py"))
        for name in sorted(imports(module))
        if name.startswith(forbidden)
    ]
    assert reaches == []
