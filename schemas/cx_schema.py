"""The shipped Catena-X JSON schemas (schemas/catenax/) as validators that find exactly what
jsonschema's Draft4Validator finds, in a fraction of its time.

A plain Draft4Validator spent about 80 % of an export in two places (docs/catenax.md, "Validation cost"):
`uniqueItems` over arrays of objects (jsonschema compares every pair: a series of 48 weeks is
1,128 comparisons) and resolving each `$ref` again for every array item. Here the schema's local
references (`#/components/schemas/...`) are inlined once, and `uniqueItems` hashes each item in
jsonschema's own sense of equality (numbers by value, booleans apart from numbers, objects by
their members, arrays in order): linear, the same verdict and the same message.
tests/test_catenax.py compares both validators' errors on valid and broken documents.
"""
import json
from collections.abc import Mapping
from importlib import resources

from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators

LOCAL = "#/"


def load(name: str) -> dict:
    """The schema as shipped (schemas/catenax/<name>-schema.json), checked against Draft 4."""
    schema = json.loads(resources.files("schemas").joinpath("catenax", f"{name}-schema.json").read_text())
    Draft4Validator.check_schema(schema)
    return schema


def inlined(schema: dict) -> dict:
    """The schema with every local `$ref` replaced by what it points to (a recursive reference, one that
    would inline into itself, is kept as it is)."""
    def target(ref: str):
        node = schema
        for key in ref.removeprefix(LOCAL).split("/"):
            node = node[key.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node, open_refs: tuple):
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(LOCAL) and ref not in open_refs:
                return walk(target(ref), open_refs + (ref,))   # Draft 4: a $ref object's siblings are ignored
            return {key: walk(value, open_refs) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, open_refs) for value in node]
        return node

    return walk(schema, ())


def _key(value):
    """A hashable stand-in with jsonschema's equality (jsonschema._utils.equal): 1 == 1.0, True != 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, Mapping):
        return ("object", frozenset((k, _key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_key(v) for v in value))
    return ("value", value)   # numbers (1 and 1.0 hash alike) and null


def _unique_items(validator, unique, instance, schema):
    if unique and validator.is_type(instance, "array") and len({_key(i) for i in instance}) != len(instance):
        yield ValidationError(f"{instance!r} has non-unique elements")


FastDraft4Validator = validators.extend(Draft4Validator, {"uniqueItems": _unique_items})


def validator(name: str) -> Draft4Validator:
    """The fast validator of a shipped schema, with format checks."""
    return FastDraft4Validator(inlined(load(name)), format_checker=FormatChecker())


def reference_validator(name: str) -> Draft4Validator:
    """jsonschema's own Draft4Validator on the schema as shipped: the reference the tests compare with."""
    return Draft4Validator(load(name), format_checker=FormatChecker())
