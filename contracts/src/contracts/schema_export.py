"""Export the JSON Schema of every event and command, and of the policy document, into
``contracts/schemas/``.

One file per payload type and version (the whole CloudEvents envelope around that payload), and
one per topic (the envelope with the topic's discriminated union). Run ``atoz-export-schemas``
after changing a model; a test fails while the committed files are stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contracts.codec import ENVELOPES, PAYLOADS, payload_type_tag
from contracts.envelope import Envelope, schema_uri
from contracts.policy import PolicyDocument

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "schemas"


def _document(title: str, schema_id: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, "$id": schema_id, "title": title, **schema}


def build_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema document, for every payload type and every topic."""
    documents: dict[str, dict[str, Any]] = {}
    for topic, payloads in PAYLOADS.items():
        for payload in payloads:
            tag = payload_type_tag(payload)
            version = payload.model_fields["schema_version"].default
            envelope = Envelope[payload]  # type: ignore[valid-type]  # built per payload at runtime
            schema = envelope.model_json_schema(mode="serialization")
            schema.pop("title", None)
            documents[f"{tag}.v{version}.json"] = _document(
                f"{tag} (schema v{version}) on {topic}", schema_uri(tag, version), schema
            )
    # The policy document every service loads (contracts.policy), for editors and reviews.
    schema = PolicyDocument.model_json_schema(mode="validation")
    schema.pop("title", None)
    documents["policy.v1.json"] = _document(
        "a marketplace's policy document (policies/*.toml)", "urn:atoz:schema:policy:v1", schema
    )
    for topic, model in ENVELOPES.items():
        schema = model.model_json_schema(mode="serialization")
        schema.pop("title", None)
        documents[f"topic.{topic}.json"] = _document(
            f"any message on {topic}", f"urn:atoz:topic:{topic}", schema
        )
    return documents


def render(document: dict[str, Any]) -> str:
    """Stable text of a schema document: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def stale_files(directory: Path = DEFAULT_OUTPUT) -> list[str]:
    """Names of schema files that are missing, different, or no longer produced."""
    expected = {name: render(doc) for name, doc in build_schemas().items()}
    present = {path.name for path in directory.glob("*.json")} if directory.exists() else set()
    stale = [
        n
        for n, text in expected.items()
        if not (directory / n).exists() or (directory / n).read_text() != text
    ]
    stale += sorted(present - expected.keys())
    return sorted(stale)


def export(directory: Path = DEFAULT_OUTPUT) -> list[Path]:
    """Write every schema into ``directory``, removing files no model produces any more."""
    directory.mkdir(parents=True, exist_ok=True)
    documents = build_schemas()
    for leftover in directory.glob("*.json"):
        if leftover.name not in documents:
            leftover.unlink()
    written = []
    for name, document in sorted(documents.items()):
        path = directory / name
        path.write_text(render(document))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: export, or with ``--check`` exit 1 when the committed schemas are stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.output)
        for name in stale:
            sys.stderr.write(f"stale schema: {name}\n")
        return 1 if stale else 0
    written = export(args.output)
    sys.stdout.write(f"wrote {len(written)} schemas to {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
