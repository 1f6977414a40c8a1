"""The plugin docs against the code, as datasette checks its hooks: every hook of
``hookspecs.py`` has a section in docs/hooks.md headed by its exact signature and API version,
every example plugin in docs/hooks.md and docs/plugins.md registers cleanly and passes its
conformance check, and the files the tutorial quotes are the example plugin's own."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from nst_engine import PLUGIN_API_VERSION, hookspecs
from nst_engine.cli import main
from nst_engine.entries import _NAME, make_entry
from nst_engine.testing import check_backbone, check_color_transfer, check_loss, check_model, check_optimizer

ROOT = Path(__file__).resolve().parents[2]
HOOKS_MD = (ROOT / "docs" / "hooks.md").read_text()
PLUGINS_MD = (ROOT / "docs" / "plugins.md").read_text()

CHECKS = {
    "backbones": check_backbone,
    "losses": check_loss,
    "optimizers": check_optimizer,
    "color_transfers": check_color_transfer,
    "models": check_model,
}

#: A fenced block, with the ``<!-- file: PATH -->`` marker of a quoted file if it has one.
_BLOCK = re.compile(r"(?:<!-- file: (?P<path>\S+) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)^```", re.S | re.M)


def _hookspecs() -> dict[str, types.FunctionType]:
    return {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "nst_engine_spec")}


def _sections() -> dict[str, tuple[str, str]]:
    """Hook name -> (the parameters in its heading, the section's text)."""
    parts = re.split(r"^## ", HOOKS_MD, flags=re.M)[1:]
    found = {}
    for part in parts:
        heading = re.match(r"`(\w+)\(([^)]*)\)`\n", part)
        if heading:
            found[heading[1]] = (heading[2], part)
    return found


def _examples(text: str) -> list[str]:
    return [m["code"] for m in _BLOCK.finditer(text) if m["lang"] == "python" and not m["path"]
            and "@hookimpl" in m["code"]]


def _quoted_files() -> list[tuple[str, str]]:
    return [(m["path"], m["code"]) for m in _BLOCK.finditer(PLUGINS_MD) if m["path"]]


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hook_is_documented_with_its_exact_signature(name):
    signature = f"{name}{inspect.signature(_hookspecs()[name])}"
    sections = _sections()
    assert name in sections, f"docs/hooks.md has no section headed ## `{signature}`"
    assert f"{name}({sections[name][0]})" == signature, "docs/hooks.md documents another signature"


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hook_says_since_which_api_version(name):
    since = re.search(r"Since API (\d+\.\d+)\.", _hookspecs()[name].__doc__ or "")
    assert since, f"the docstring of hookspecs.{name} must say 'Since API MAJOR.MINOR.'"
    assert f"Since API {since[1]}." in _sections()[name][1]


def test_no_section_documents_a_hook_that_does_not_exist():
    assert set(_sections()) <= set(_hookspecs())


def test_the_register_contract_is_the_codes():
    assert f"plugin API {PLUGIN_API_VERSION}" in HOOKS_MD
    assert f"`{_NAME.pattern}`" in HOOKS_MD
    description = inspect.signature(make_entry).parameters["description"]
    assert description.kind is description.KEYWORD_ONLY and description.default == ""
    assert 'register(name, factory, *, description="")' in HOOKS_MD


@pytest.mark.parametrize(
    "code",
    [pytest.param(code, id=f"{doc}-{index}") for doc, text in (("hooks", HOOKS_MD), ("plugins", PLUGINS_MD))
     for index, code in enumerate(_examples(text))],
)
def test_every_example_plugin_registers_and_passes_its_check(code, nst_register, capsys):
    module = types.ModuleType("docs_example")
    exec(compile(code, "<docs example>", "exec"), module.__dict__)
    record = nst_register(module, name="docs-example", version="0")
    provided = [(kind, name) for kind, names in record.provides.items() for name in names]
    for kind, name in provided:
        CHECKS[kind](name)
    for command in re.findall(r'@cli\.command\("([\w-]+)"\)', code):
        with pytest.raises(SystemExit) as done:
            main([command])
        assert done.value.code == 0 and "histogram" in capsys.readouterr().out
    assert provided or "register_commands" in record.hooks


def test_the_docs_show_an_example_of_every_hook_and_kind():
    hooks = {re.search(r"def (register_\w+)", code)[1] for code in _examples(HOOKS_MD)}
    assert hooks == set(_hookspecs())
    others = "".join(_examples(PLUGINS_MD))
    assert all(f"def register_{kind}" in others for kind in ("backbones", "losses", "optimizers"))


@pytest.mark.parametrize("path, quoted", _quoted_files(), ids=[path for path, _ in _quoted_files()])
def test_the_tutorial_quotes_the_example_plugin_as_it_is(path, quoted):
    assert quoted == (ROOT / path).read_text(), f"docs/plugins.md quotes an outdated {path}"
