"""Feature columns are declared once, in the dbt contracts (dbt_project/models/features/_features.yml).

The Python feature views and the model's baseline name columns too; this test holds them to the
contracts, so renaming a column in one place either works everywhere or fails here, naming it.
"""

from collections.abc import Mapping
from typing import Any

from fti_assets import manifest
from fti_assets.feature_views.declared import VIEWS
from fti_assets.feature_views.view import FeatureView
from fti_assets.training_pipeline.model import BASELINE_FEATURE

NUMERIC_TYPES = {"integer", "bigint", "double"}
TEXT_TYPES = {"varchar", "string"}


def contract(dbt_manifest: Mapping[str, Any], relation: str) -> dict[str, str]:
    """Column -> declared data type of the dbt model built as `features.<relation>`."""
    for node in dbt_manifest["nodes"].values():
        if node["resource_type"] == "model" and node.get("alias") == relation:
            return {name: (column.get("data_type") or "").lower() for name, column in node["columns"].items()}
    return {}


def problems(view: FeatureView, dbt_manifest: Mapping[str, Any]) -> list[str]:
    """Every column the view reads that its dbt contract lacks or types otherwise."""
    found = []
    name = f"{view.name}_v{view.version}"
    spine = contract(dbt_manifest, view.spine_relation)
    reads = {view.spine_relation: (spine, [*view.keys, *view.spine_features, view.label, view.prediction_time])}
    for group in view.groups:
        reads[view.spine_relation][1].extend(s for s, _ in group.join_keys)
        columns = contract(dbt_manifest, group.relation)
        reads[group.relation] = (columns, [*(g for _, g in group.join_keys), group.event_time, *group.row_columns])
    for relation, (columns, read) in reads.items():
        if not columns:
            found.append(f"{name}: no dbt model features.{relation} with a contract")
            continue
        found.extend(f"{name}: features.{relation} has no column {c!r}" for c in dict.fromkeys(read) if c not in columns)
    types = {c: t for columns, _ in reads.values() for c, t in columns.items()}
    found.extend(
        f"{name}: numeric feature {c!r} is {types[c]!r} in its contract"
        for c in view.numeric_features if c in types and types[c] not in NUMERIC_TYPES
    )
    found.extend(
        f"{name}: categorical feature {c!r} is {types[c]!r} in its contract"
        for c in view.categorical_features if c in types and types[c] not in TEXT_TYPES
    )
    # An on-demand feature's group inputs have the SQL type its function is registered with.
    found.extend(
        f"{name}: on-demand input {c!r} of {f.name} is {types.get(c)!r} in its contract, declared {t!r}"
        for f in view.on_demand for c, t in zip(f.inputs, f.input_types, strict=True)
        if c in view.group_inputs and types.get(c) != t.lower()
    )
    if BASELINE_FEATURE not in view.numeric_features:
        found.append(f"{name}: the model's baseline feature {BASELINE_FEATURE!r} is not one of its numeric features")
    return found


def test_feature_columns_match_the_dbt_contracts():
    dbt_manifest = manifest.load()
    assert [p for view in VIEWS.values() for p in problems(view, dbt_manifest)] == []
