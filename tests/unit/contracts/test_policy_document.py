"""The policy document: the shipped one is valid and says every number once; a bad one is
refused with its field named; its version changes with its content, not with its layout."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import pytest

from contracts.orders import ClaimReason
from contracts.policy import (
    DEFAULT_POLICY_FILE,
    PolicyDocument,
    PolicyError,
    load_policy,
    parse_policy,
)
from contracts.schema_export import build_schemas

ROOT = Path(__file__).resolve().parents[3]
TEXT = DEFAULT_POLICY_FILE.read_text()


def _raw() -> dict[str, Any]:
    return tomllib.loads(TEXT)


def _refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as refused:
        parse_policy(json.dumps(raw), source="candidate.toml")
    return str(refused.value)


def test_the_shipped_document_is_valid_and_reachable_from_the_repository_root() -> None:
    assert load_policy(ROOT / "policies" / "default.toml") == load_policy()


def test_the_shipped_document_holds_every_field_the_model_knows() -> None:
    # Nothing left to a default in code: a newcomer reads every number in the file.
    def unset(model: Any, raw: dict[str, Any], where: str) -> list[str]:
        missing = []
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if name not in raw and not (field.default is None and value is None):
                if name not in ("description", "marketplaces"):
                    missing.append(f"{where}{name}")
            elif hasattr(type(value), "model_fields") and isinstance(raw.get(name), dict):
                missing += unset(value, raw[name], f"{where}{name}.")
        return missing

    assert unset(load_policy(), _raw(), "") == []


def test_the_document_validates_against_its_published_schema() -> None:
    validator = jsonschema_rs.validator_for(build_schemas()["policy.v1.json"])
    assert validator.is_valid(_raw())
    broken = _raw()
    broken["guarantee"]["claim_cap"] = "a lot"
    assert not validator.is_valid(broken)


def test_an_invalid_number_is_refused_with_its_field_named() -> None:
    raw = _raw()
    raw["guarantee"]["seller_response_hours"] = 0
    assert "candidate.toml: guarantee.seller_response_hours:" in _refusal(raw)


def test_an_unknown_field_is_refused_rather_than_ignored() -> None:
    raw = _raw()
    raw["guarantee"]["seller_response_hour"] = 48  # a typo must not leave 72 in force
    assert "guarantee.seller_response_hour: Extra inputs are not permitted" in _refusal(raw)


def test_every_claim_reason_of_the_contract_must_be_decided() -> None:
    raw = _raw()
    assert set(raw["reasons"]) == set(get_args(ClaimReason))
    del raw["reasons"]["damaged"]
    assert "reasons: Value error, every claim reason must be listed; missing: damaged" in (
        _refusal(raw)
    )


def test_a_reason_the_contract_does_not_know_is_refused() -> None:
    raw = _raw()
    raw["reasons"]["late"] = {"contact_first": True}
    assert "reasons.late" in _refusal(raw)


def test_an_unknown_time_zone_is_refused() -> None:
    raw = _raw()
    raw["marketplaces"] = {"fr": {"timezone": "Europe/Pariss", "weekend": [5, 6]}}
    assert "marketplaces.fr.timezone: Value error, unknown time zone 'Europe/Pariss'" in (
        _refusal(raw)
    )


def test_a_marketplace_language_must_be_supported() -> None:
    raw = _raw()
    raw["marketplaces"] = {"de": {"timezone": "Europe/Berlin", "weekend": [5, 6], "language": "de"}}
    assert "marketplaces.de.language 'de' is not among languages.supported" in _refusal(raw)


def test_a_deactivation_line_below_the_target_is_refused() -> None:
    raw = _raw()
    raw["odr"]["deactivation_line"] = "0.005"
    assert "deactivation_line must be above target" in _refusal(raw)


def test_text_that_is_not_toml_is_refused_with_the_file_named() -> None:
    with pytest.raises(PolicyError, match=r"candidate\.toml: not a TOML document"):
        parse_policy("seller_response_hours = = 3", source="candidate.toml")


def test_a_missing_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nowhere\.toml: cannot be read"):
        load_policy(tmp_path / "nowhere.toml")


def test_the_version_changes_with_a_number_but_not_with_the_layout() -> None:
    default = load_policy()
    reordered = parse_policy(json.dumps(dict(reversed(list(_raw().items())))))
    assert reordered.version == default.version
    raw = _raw()
    raw["guarantee"]["seller_response_hours"] = 48
    changed = PolicyDocument.model_validate(raw)
    assert changed.version.name == default.version.name
    assert changed.version.digest != default.version.digest
