"""Blocked models (contract §Bad input): a model that reaches a quarantined bom_item gets no new demand.

Reachability ignores dates, plants and rules, so a BOM data error blocks every
model that could ever use it. The BOM structure is small and already on the
driver (cycle search), so this is a breadth-first walk per model there.
"""
from transforms.graph import reachable

MAX_CAUSES = 5


def blocked_models(models: list[str], pairs: set[tuple[str, str]], bad: list[tuple[str, str, str]]) -> dict[str, str]:
    """model_id -> the cause (a sentence naming the quarantined bom_items it reaches)."""
    reach = reachable(pairs, models)
    blocked = {}
    for model in sorted(models):
        hits = sorted({(item, reason) for item, parent, reason in bad if parent in reach[model]})
        if hits:
            shown = ", ".join(f"{item} ({reason})" for item, reason in hits[:MAX_CAUSES])
            more = f" and {len(hits) - MAX_CAUSES} more" if len(hits) > MAX_CAUSES else ""
            blocked[model] = f"model {model} reaches quarantined bom_item(s) {shown}{more}"
    return blocked

