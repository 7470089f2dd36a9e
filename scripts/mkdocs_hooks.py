"""
MkDocs hooks of the docs site (`mkdocs.yml` names this file).

- Every page under `docs/` is built and listed: pages missing from the explicit `nav`
  are appended to it, so a new page needs no edit of `mkdocs.yml` to be reachable.
- `api.md` gets its reference part at build time from the service's OpenAPI schema
  (`manage.py spectacular`), so the reference cannot drift from the code.
- `<!-- include FILE -->` shows a file of the repository (`SECURITY.md` on the security
  page, the README's embedding section in the quickstart): one text, no copy to keep in step.

`render_openapi(schema)` is also what the tests call to check the API page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_MARKER = "<!-- openapi-reference -->"
# `<!-- include FILE -->` or `<!-- include FILE#word -->`: a file of the repository, or its
# `## ` section whose heading contains `word`, without that heading.
INCLUDE = re.compile(r"<!-- include ([\w./-]+?)(?:#(\w+))? -->")
METHODS = ("get", "post", "put", "patch", "delete")
# Reading order of the reference; tags not named here follow in the schema's order.
TAG_ORDER = ("auth", "account", "static tokens", "admin", "oauth")


# -- the OpenAPI schema as Markdown -------------------------------------------------------


def load_schema() -> dict:
    """The service's schema, as `manage.py spectacular` prints it (in a child process:
    the docs build must not configure Django inside MkDocs)."""
    env = {**os.environ, "DEBUG": "1", "SECRET_KEY": os.environ.get("SECRET_KEY", "docs-build")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--format", "openapi-json", "--validate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(prop: dict) -> str:
    if "$ref" in prop:
        return f"[{_ref_name(prop['$ref'])}](#{_ref_name(prop['$ref']).lower()})"
    if "allOf" in prop:
        return " & ".join(_type(p) for p in prop["allOf"])
    if "oneOf" in prop:
        return " or ".join(_type(p) for p in prop["oneOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        kind = f"array of {_type(prop.get('items', {}))}"
    if prop.get("format"):
        kind += f" ({prop['format']})"
    if prop.get("enum"):
        kind += ": " + ", ".join(f"`{v}`" for v in prop["enum"] if v is not None)
    if prop.get("nullable"):
        kind += " or null"
    return kind


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _schema_table(name: str, schema: dict) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    props = schema.get("properties")
    if not props:
        lines += [f"Type: {_type(schema)}", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | notes |", "|---|---|---|---|"]
    for field, prop in props.items():
        notes = prop.get("description", "")
        if "default" in prop:
            notes = f"default `{json.dumps(prop['default'])}`. {notes}".strip()
        if prop.get("readOnly"):
            notes = f"read-only. {notes}".strip()
        lines.append(f"| `{field}` | {_type(prop)} | {'yes' if field in required else ''} | {_cell(notes)} |")
    return lines + [""]


def _body(content: dict | None) -> str:
    if not content:
        return ""
    schema = next(iter(content.values())).get("schema", {})
    return _type(schema)


def render_openapi(schema: dict) -> str:
    """The operations grouped by tag, then the body schemas, as Markdown."""
    security_names = {
        "bearerAuth": "`Authorization: Bearer <access>`",
        "accessCookie": "the access cookie",
        "tokenAuth": "`Authorization: Token <key>`",
    }
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    order = {tag: i for i, tag in enumerate(TAG_ORDER)}
    by_tag = dict(sorted(by_tag.items(), key=lambda item: order.get(item[0], len(order))))
    lines = [f"OpenAPI {schema['openapi']}, {schema['info']['title']} {schema['info']['version']}.", ""]
    for tag, ops in by_tag.items():
        lines += [f"## {tag}", ""]
        for method, path, op in ops:
            lines += [f"### `{method.upper()} {path}`", ""]
            schemes = [name for req in op.get("security", []) for name in req]
            if schemes:
                lines += ["Credential: " + ", or ".join(security_names.get(s, s) for s in schemes) + ".", ""]
            else:
                lines += ["No credential needed.", ""]
            for param in op.get("parameters", []):
                lines += [f"Parameter `{param['name']}` ({param['in']}): {_type(param.get('schema', {}))}.", ""]
            request = op.get("requestBody")
            if request:
                media = ", ".join(f"`{m}`" for m in request["content"])
                lines += [f"Body ({media}): {_body(request['content'])}.", ""]
            lines += ["| status | body | meaning |", "|---|---|---|"]
            for code, response in op["responses"].items():
                lines.append(
                    f"| {code} | {_body(response.get('content')) or '—'} | {_cell(response.get('description', ''))} |"
                )
            lines.append("")
    lines += ["## Schemas", ""]
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        lines += _schema_table(name, component)
    return "\n".join(lines)


# -- MkDocs events -------------------------------------------------------------------------


def _nav_paths(nav) -> set[str]:
    found = set()
    for entry in nav or []:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            found |= _nav_paths(value)
        elif isinstance(value, str):
            found.add(value)
    return found


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem.replace("-", " ").capitalize()


def on_config(config, **kwargs):
    """Append the pages that the explicit nav does not list, under "More"."""
    nav = config.get("nav")
    if nav is None:
        return config
    listed = _nav_paths(nav)
    docs = Path(config["docs_dir"])
    missing = sorted(
        p.relative_to(docs).as_posix() for p in docs.rglob("*.md") if p.relative_to(docs).as_posix() not in listed
    )
    if missing:
        nav.append({"More": [{_title(docs / m): m} for m in missing]})
    return config


def on_page_markdown(markdown, page, **kwargs):
    if OPENAPI_MARKER in markdown:
        markdown = markdown.replace(OPENAPI_MARKER, render_openapi(load_schema()))
    return INCLUDE.sub(lambda m: included(m.group(1), m.group(2)), markdown)


def included(name: str, section: str | None = None) -> str:
    """The text of a repository file, without its title; or one `## ` section of it."""
    text = (ROOT / name).read_text(encoding="utf-8")
    if section is None:
        return re.sub(r"\A# .*\n", "", text)  # the page keeps its own title
    parts = re.split(r"^## .*$", text, flags=re.M)
    headings = re.findall(r"^## (.*)$", text, flags=re.M)
    for heading, body in zip(headings, parts[1:]):
        if section.lower() in heading.lower():
            return body.strip() + "\n"
    raise ValueError(f"{name} has no section about {section!r}")
