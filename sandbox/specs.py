"""Validate requests against the vendors' OpenAPI documents.

The documents live in ``../shared/specs`` beside the repository (override with
the ``ESP_SYNC_SPECS_DIR`` environment variable). Each document is read on
first use and each operation's schemas are compiled once, on first use, and
cached: Klaviyo's document is 3 MB and a test touches a handful of operations.

OpenAPI 3.0 schemas are validated as JSON Schema draft 4 after converting
``nullable``; OpenAPI 3.1 schemas (Mailchimp) are draft 2020-12 already.
Provider client tests import this module to check the payloads they build::

    from sandbox import specs
    assert not specs.validate_request("klaviyo", "POST", "/api/events", body)
"""

import copy
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

_logger = logging.getLogger(__name__)

SPEC_FILES = {
    "klaviyo": "klaviyo/stable.json",
    "mailchimp": "mailchimp/marketing-openapi.json",
    "dotdigital_v2": "dotdigital/dotdigital-v2-api-swagger.json",
    "dotdigital_contacts": "dotdigital/dotdigital-contacts-service.json",
    "dotdigital_insight": "dotdigital/dotdigital-insight-data-service.json",
}
_METHODS = ("get", "put", "post", "patch", "delete")
_JSON_TYPES = ("application/vnd.api+json", "application/json")


@dataclass(frozen=True)
class SpecViolation:
    """One way a request breaks its operation's schema.

    ``field`` is a JSON pointer into the body (``/data/attributes/email``) or
    ``query.<name>`` for a query parameter; ``""`` means the whole body.
    """

    field: str
    message: str

    def __str__(self):
        return f"{self.field or '(body)'}: {self.message}"


def specs_dir():
    """Directory holding the vendors' specs."""
    env = os.environ.get("ESP_SYNC_SPECS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "specs"


class _Spec:
    """One OpenAPI document with its path index and compiled operations."""

    def __init__(self, key, doc):
        self.key = key
        self.doc = doc
        self.draft4 = not str(doc.get("openapi", "3.0")).startswith("3.1")
        self._converted = {}
        self._ops = {}
        self._lock = threading.Lock()
        self.templates = []
        for template, item in doc.get("paths", {}).items():
            names = re.findall(r"{([^}/]+)}", template)
            pattern = re.sub(r"\\{[^}/]+\\}", "([^/]+)", re.escape(template))
            literal = len(re.sub(r"{[^}/]+}", "", template))
            methods = {m.upper() for m in item if m in _METHODS}
            self.templates.append(
                (len(names), -literal, template, re.compile(pattern + "$"), methods)
            )
        self.templates.sort(key=lambda row: row[:3])

    # -- paths ---------------------------------------------------------------
    def match(self, method, path):
        """The template serving ``method path`` (literal paths first)."""
        candidates = [path]
        if path.endswith("/") and len(path) > 1:
            candidates.append(path.rstrip("/"))
        else:
            candidates.append(path + "/")
        fallback = None
        for concrete in candidates:
            for _n, _lit, template, regex, methods in self.templates:
                if regex.match(concrete):
                    if method is None or method.upper() in methods:
                        return template
                    fallback = fallback or template
        return fallback if method is None else None

    def operation(self, method, template):
        """The raw operation object, or ``None``."""
        item = self.doc.get("paths", {}).get(template) or {}
        return item.get(method.lower())

    # -- schema conversion -----------------------------------------------------
    def _resolve(self, pointer):
        node = self.doc
        for part in pointer.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _convert(self, node, refs):
        """Deep-copy ``node`` converting ``nullable``; collect local ``$ref``."""
        if isinstance(node, list):
            return [self._convert(item, refs) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in ("example", "examples", "x-readme", "description"):
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                refs.add(value)
            if key in ("properties", "patternProperties", "$defs", "definitions"):
                out[key] = {
                    name: self._convert(sub, refs) for name, sub in value.items()
                }
            else:
                out[key] = self._convert(value, refs)
        if self.draft4 and out.pop("nullable", False):
            out = _nullable(out)
        return out

    def _bundle(self, schema):
        """A self-contained schema: ``schema`` plus every component it uses."""
        refs = set()
        root = self._convert(schema, refs)
        root = dict(root) if "$ref" not in root else {"allOf": [root]}
        seen = set()
        while refs:
            pointer = refs.pop()
            if pointer in seen:
                continue
            seen.add(pointer)
            if pointer not in self._converted:
                found = set()
                self._converted[pointer] = (
                    self._convert(self._resolve(pointer), found),
                    found,
                )
            converted, found = self._converted[pointer]
            refs |= found - seen
            parts = [
                p.replace("~1", "/").replace("~0", "~")
                for p in pointer.lstrip("#/").split("/")
            ]
            node = root
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = converted
        return root

    def _validator(self, schema):
        cls = jsonschema.Draft4Validator if self.draft4 else None
        cls = cls or jsonschema.Draft202012Validator
        return cls(self._bundle(schema))

    # -- compiled operations ---------------------------------------------------
    def compiled(self, method, template):
        """Validators of one operation, built on first use."""
        key = (method.upper(), template)
        with self._lock:
            if key not in self._ops:
                self._ops[key] = self._compile(method, template)
            return self._ops[key]

    def _compile(self, method, template):
        op = self.operation(method, template)
        if op is None:
            return None
        body = op.get("requestBody") or {}
        if "$ref" in body:
            body = self._resolve(body["$ref"])
        bodies = {}
        for media, content in (body.get("content") or {}).items():
            if "schema" in content and ("json" in media):
                bodies[media] = self._validator(content["schema"])
        params = []
        item = self.doc["paths"][template]
        for param in item.get("parameters", []) + op.get("parameters", []):
            if "$ref" in param:
                param = self._resolve(param["$ref"])
            if param.get("in") != "query":
                continue
            schema = param.get("schema") or {"type": "string"}
            params.append(
                (
                    param["name"],
                    bool(param.get("required")),
                    param.get("explode", True),
                    self._validator(schema),
                    _schema_type(self._resolve(schema["$ref"]))
                    if "$ref" in schema
                    else _schema_type(schema),
                )
            )
        return {
            "body_required": bool(body.get("required")),
            "bodies": bodies,
            "params": params,
        }


def _nullable(schema):
    if "type" in schema and not any(k in schema for k in ("allOf", "$ref")):
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [{"type": "null"}, schema]}


def _schema_type(schema):
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def _coerce(raw, kind):
    """Turn a query string value into the type its schema expects."""
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw


_cache = {}
_cache_lock = threading.Lock()
_warned = set()


def get_spec(key):
    """The loaded document for ``key``, or ``None`` (warned once) if missing."""
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        spec = None
        relative = SPEC_FILES.get(key)
        if relative is None:
            raise KeyError(f"unknown spec {key!r}; known: {sorted(SPEC_FILES)}")
        path = specs_dir() / relative
        try:
            with open(path, encoding="utf-8") as handle:
                spec = _Spec(key, json.load(handle))
        except (OSError, ValueError) as exc:
            if key not in _warned:
                _warned.add(key)
                _logger.warning(
                    "Spec %s unavailable (%s): validation disabled for it", key, exc
                )
        _cache[key] = spec
        return spec


def available(key):
    """True when the spec file for ``key`` could be loaded."""
    return get_spec(key) is not None


def operation_for(spec, method, concrete_path):
    """The spec's path template serving ``method concrete_path``, or ``None``.

    Literal paths win over templated ones (``/api/profile-import`` is not
    ``/api/profiles/{id}``). ``method=None`` matches any method.
    """
    loaded = get_spec(spec)
    if loaded is None:
        return None
    return loaded.match(method, concrete_path)


def operation(spec, method, path_template):
    """The raw OpenAPI operation object (for ``x-klaviyo-ratelimit`` etc.)."""
    loaded = get_spec(spec)
    return loaded.operation(method, path_template) if loaded else None


def validate_request(
    spec, method, path_template, body=None, query=None, content_type=None
):
    """Check a request against its operation; return the violations found.

    ``body`` is the parsed JSON (or raw ``bytes``/``str``, parsed here);
    ``query`` maps names to a list of values (or a single value). Unknown
    specs or operations, and missing spec files, yield no violations.
    """
    loaded = get_spec(spec)
    if loaded is None:
        return []
    compiled = loaded.compiled(method, path_template)
    if compiled is None:
        return []
    violations = []
    for name, required, explode, validator, kind in compiled["params"]:
        values = (query or {}).get(name)
        if values is None:
            if required:
                violations.append(
                    SpecViolation(f"query.{name}", "required query parameter")
                )
            continue
        if not isinstance(values, list | tuple):
            values = [values]
        values = [str(v) for v in values]
        if kind == "array":
            items = validator.schema.get("items", {})
            item_kind = _schema_type(items) if isinstance(items, dict) else None
            if not explode:
                values = [part for v in values for part in v.split(",")]
            value = [_coerce(v, item_kind) for v in values]
        else:
            value = _coerce(values[-1], kind)
        error = best_match(validator.iter_errors(value))
        if error is not None:
            violations.append(SpecViolation(f"query.{name}", error.message))
    if isinstance(body, bytes | bytearray | str):
        if not body:
            body = None
        else:
            try:
                body = json.loads(body)
            except ValueError as exc:
                return [*violations, SpecViolation("", f"malformed JSON: {exc}")]
    if body is None:
        if compiled["body_required"] and compiled["bodies"]:
            violations.append(SpecViolation("", "request body is required"))
        return violations
    validator = _body_validator(compiled["bodies"], content_type)
    if validator is None:
        return violations
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.path)):
        error = best_match([error])
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        violations.append(SpecViolation(pointer, error.message))
    return violations


def _body_validator(bodies, content_type):
    media = (content_type or "").split(";")[0].strip().lower()
    if media in bodies:
        return bodies[media]
    for candidate in _JSON_TYPES:
        if candidate in bodies:
            return bodies[candidate]
    return next(iter(bodies.values()), None)


def clear_cache():
    """Forget loaded documents (tests that point ``ESP_SYNC_SPECS_DIR`` away)."""
    with _cache_lock:
        _cache.clear()
        _warned.clear()


def body_schema(spec, method, path_template, media=None):
    """The bundled body schema of one operation (for tools and debugging)."""
    loaded = get_spec(spec)
    compiled = loaded and loaded.compiled(method, path_template)
    if not compiled:
        return None
    validator = _body_validator(compiled["bodies"], media)
    return copy.deepcopy(validator.schema) if validator else None
