"""The promotion gate: when a challenger may replace the champion.

A challenger must beat the champion's ROC AUC on the same test flights, each model reading them
through its own feature view (`champion.champion_on`; any challenger beats no champion), and
serve every carrier and origin fairly: no group with at least `min_group_rows` test rows may
have a ROC AUC more than `max_group_gap` below the challenger's overall test ROC AUC. A 0.10
gap is where a group's ranking is visibly worse (0.70 overall vs 0.60 is close to guessing
for that group); smaller groups are too noisy to judge.
"""

import dataclasses

from fti_assets.constants import PROMOTION_MAX_GROUP_GAP, PROMOTION_MIN_GROUP_ROWS

GATE_METRIC = "roc_auc"


@dataclasses.dataclass(frozen=True)
class GateConfig:
    min_group_rows: int = PROMOTION_MIN_GROUP_ROWS
    max_group_gap: float = PROMOTION_MAX_GROUP_GAP


@dataclasses.dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: tuple[str, ...]

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def promotion_decision(
    challenger: dict,
    champion_score: float | None,
    config: GateConfig = GateConfig(),
    no_champion: str = "no champion yet",
) -> Decision:
    """Decide from the challenger's evaluation (as `model.evaluate` returns it) and the
    champion's ROC AUC on the same test flights (None when there is no champion to compare
    with; `no_champion` says why)."""
    overall = challenger["test"]["model"][GATE_METRIC]
    failures = []
    if champion_score is not None:
        if not overall > champion_score:
            failures.append(f"test {GATE_METRIC} {overall:.4f} does not beat the champion's {champion_score:.4f}")
    for column, groups in challenger["groups"].items():
        for value, m in groups.items():
            if m["rows"] >= config.min_group_rows and m[GATE_METRIC] is not None:
                if m[GATE_METRIC] < overall - config.max_group_gap:
                    failures.append(
                        f"{column} {value}: test {GATE_METRIC} {m[GATE_METRIC]:.4f} is more than "
                        f"{config.max_group_gap} below the overall {overall:.4f} ({m['rows']} rows)"
                    )
    if failures:
        return Decision(False, tuple(failures))
    why = no_champion if champion_score is None else f"beats the champion's test {GATE_METRIC}"
    return Decision(True, (f"test {GATE_METRIC} {overall:.4f}: {why}; every carrier and origin within the margin",))
