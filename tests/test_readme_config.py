"""README's config reference documents every key of `seqlab.config`, each in its section.

The reference is the first ```yaml block under "## Config reference" in README.md. It is read
as YAML, so a key counts only where it sits: `model.chars.dropout` must be a `dropout:` key of
the `chars:` mapping inside `model:`, not the `dropout:` of another section.
"""

from __future__ import annotations

import re
import types
import typing

import pytest
import yaml
from pydantic import BaseModel

from seqlab.config import Config

from conftest import ROOT


def reference_block(readme: str) -> str:
    """The text of the first ```yaml block under the "## Config reference" heading."""
    section = readme.split("\n## Config reference\n", 1)
    assert len(section) == 2, 'README.md has no "## Config reference" section'
    body = section[1].split("\n## ", 1)[0]
    block = re.search(r"^```yaml\n(.*?)^```", body, flags=re.S | re.M)
    assert block, 'the "## Config reference" section has no ```yaml block'
    return block.group(1)


def _section_model(annotation) -> type[BaseModel] | None:
    """The pydantic model a field holds (also inside `X | None`), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            model = _section_model(arg)
            if model is not None:
                return model
    return None


def config_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every key of the config, dotted, sections first then the keys inside them."""
    keys = []
    for name, field in model.model_fields.items():
        dotted = prefix + name
        keys.append(dotted)
        section = _section_model(field.annotation)
        if section is not None:
            keys.extend(config_keys(section, dotted + "."))
    return keys


def documented_keys(mapping: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in mapping.items():
        keys.append(prefix + str(name))
        if isinstance(value, dict):
            keys.extend(documented_keys(value, f"{prefix}{name}."))
    return keys


@pytest.fixture(scope="module")
def reference() -> dict:
    return yaml.safe_load(reference_block((ROOT / "README.md").read_text(encoding="utf-8")))


def test_the_walk_finds_nested_keys():
    """The walk itself: sections are recursed into, names are dotted."""
    keys = config_keys()
    assert {"seed", "data.stream", "model.chars.dropout", "model.attention.use_additive_bias",
            "training.momentum", "distribution.strategy"} <= set(keys)
    assert "model.embedding" in keys and "model.embedding.word_dropout" in keys


def test_every_config_key_is_in_the_readme_reference(reference):
    missing = [key for key in config_keys() if key not in set(documented_keys(reference))]
    assert not missing, ("README.md's config reference lacks these keys of seqlab/config.py "
                         f"(add each, with a short comment, in its section): {missing}")


def test_the_readme_reference_names_no_key_the_config_lacks(reference):
    stale = [key for key in documented_keys(reference) if key not in set(config_keys())]
    assert not stale, f"README.md's config reference names keys seqlab/config.py lacks: {stale}"


def test_the_readme_reference_is_a_valid_config(reference):
    """Its values are ones a config may hold (a typo'd choice or a wrong type fails here)."""
    Config.model_validate(reference)


def test_a_missing_key_is_caught():
    """The check fails when one line of the block is gone (here `momentum:`)."""
    block = reference_block((ROOT / "README.md").read_text(encoding="utf-8"))
    lines = [line for line in block.splitlines() if not line.strip().startswith("momentum:")]
    assert len(lines) < len(block.splitlines())
    documented = set(documented_keys(yaml.safe_load("\n".join(lines))))
    assert [key for key in config_keys() if key not in documented] == ["training.momentum"]
