"""The benchmark's plant network: conf/sample_network.yaml grown to 42 plants and 12 models of three brands.

Derived models copy the first-level BOM edges and option tables of their base
model (so sub-assemblies are shared across models, as in real BOMs); each plant
builds two or three models; plant B01 gets 10x the orders of any other plant
(the skew a big plant brings). `breadth` is the number of small purchased parts
under every assembly and phantom (the BOM-breadth knob).
"""
import copy
from pathlib import Path

import yaml

from pipeline.generate import DEFAULT_NETWORK, load_network

DERIVED = {"G60": ["G61", "G68"], "G05": ["G06", "G07"], "F66": ["F65", "F67"], "RR21": ["RR22", "RR31"]}
PLANTS = 42
BIG_PLANT, SKEW = "B01", 10.0


def bench_network(breadth: int = 8) -> dict:
    net = copy.deepcopy(load_network(DEFAULT_NETWORK))
    base = {m["model_id"]: m for m in net["models"]}
    models = list(net["models"])
    for model_id, derived in DERIVED.items():
        for new in derived:
            models.append({**base[model_id], "model_id": new, "name": f"{base[model_id]['name']} ({new})"})
            net["bom_items"] += [[new, *row[1:]] for row in net["bom_items"] if row[0] == model_id]
            for table in ("families", "extras"):
                for by_model in net[table].values():
                    if model_id in by_model:
                        by_model[new] = by_model[model_id]
    # plant-specific edges of the sample name its five plants; the derived ones keep those plants too
    plants = list(net["plants"])
    for i in range(1, PLANTS - len(plants) + 1):
        plants.append({"plant_id": f"B{i:02d}", "name": f"Bench plant {i}", "country": "DE",
                       "bpns_body": f"000BENCH{i:02d}"})
    ids = [m["model_id"] for m in models]
    for m in models:
        m["plants"] = {}
    for k, p in enumerate(plants):
        for j, model_id in enumerate((ids[k % len(ids)], ids[(k + 5) % len(ids)], ids[(k + 7) % len(ids)])[:2 + k % 2]):
            next(m for m in models if m["model_id"] == model_id)["plants"][p["plant_id"]] = 1.0 / (j + 1)
    net["plants"], net["models"] = plants, models
    net["plant_volume"] = {p["plant_id"]: (SKEW if p["plant_id"] == BIG_PLANT else 1.0) for p in plants}
    net["breadth"] = breadth
    return net


def write_network(path: Path, breadth: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(bench_network(breadth), sort_keys=False))
    return path
