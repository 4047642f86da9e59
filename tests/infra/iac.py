"""Helpers for the infrastructure tests: run the IaC tools from their own virtualenv, read the
parsed Bicep templates, and ask the function app which functions it defines.

checkov and pycep-parser live in ``.venv-iac`` (from ``requirements-iac.txt``), apart from the
app's own virtualenv, because checkov pins many dependencies of its own. The tests call them as
programs; nothing from that virtualenv is imported here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"
IAC_VENV = ROOT / ".venv-iac"
_IAC_BIN = IAC_VENV / ("Scripts" if os.name == "nt" else "bin")

_MISSING_TOOLS = (
    "{path} is missing. The infrastructure checks run checkov and pycep-parser from their own "
    "virtualenv; create it with `make .venv-iac/.installed`, or by hand: "
    "python3 -m venv .venv-iac && .venv-iac/bin/pip install -r requirements-iac.txt"
)


def iac_tool(name: str) -> Path:
    """Path of a program in the IaC virtualenv; fails the test with the fix if it is absent."""
    path = _IAC_BIN / name
    if not path.exists():
        pytest.fail(_MISSING_TOOLS.format(path=path.relative_to(ROOT)), pytrace=False)
    return path


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


# --- checkov -----------------------------------------------------------------------------------


def run_checkov(directory: Path) -> dict[str, Any]:
    """checkov's JSON report for the Bicep files under ``directory`` (offline)."""
    checkov = iac_tool("checkov")
    proc = subprocess.run(
        [str(checkov), "--directory", str(directory), "--framework", "bicep",
         "--skip-download", "--output", "json"],
        cwd=directory, capture_output=True, text=True, timeout=600, check=False,
        # No update check: it would ask PyPI on every run.
        env={**os.environ, "LOG_LEVEL": "ERROR", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON report (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}", pytrace=False)
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "bicep")
    if "results" not in report:  # nothing scanned: checkov prints only a summary
        report["results"] = {"passed_checks": [], "failed_checks": [], "skipped_checks": [],
                             "parsing_errors": []}
    assert isinstance(report, dict)
    return report


# --- pycep -------------------------------------------------------------------------------------

_PARSE = """
import json, sys
from pycep import BicepParser
parser = BicepParser()
out = {}
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            out[path] = {"template": parser.parse(text=f.read())}
    except Exception as exc:
        out[path] = {"error": f"{type(exc).__name__}: {exc}"}
json.dump(out, sys.stdout, default=str)
"""


def parse_bicep(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """pycep's parse of each file: ``{"template": ...}`` or ``{"error": "..."}``."""
    python = iac_tool("python")
    proc = subprocess.run(
        [str(python), "-c", _PARSE, *map(str, paths)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"pycep-parser did not run:\n{proc.stderr[-4000:]}", pytrace=False)
    return {Path(p): result for p, result in json.loads(proc.stdout).items()}


class Unresolved:
    """A value known only at deployment time (an output, a function call, an operator)."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression

    def __repr__(self) -> str:
        return f"Unresolved({self.expression!r})"


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Template:
    """One parsed Bicep file, with a small evaluator for its literal parts.

    pycep gives a reference to a parameter or variable and a string literal the same shape (a
    plain string), so ``resolve`` reads a string that names a declared parameter or variable as a
    reference. The templates here never use such a name as a literal value.
    """

    path: Path
    data: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.data.get("parameters", {}))

    @property
    def variables(self) -> dict[str, Any]:
        return {name: v["value"] for name, v in self.data.get("variables", {}).items()}

    @property
    def outputs(self) -> dict[str, Any]:
        return {name: o["value"] for name, o in self.data.get("outputs", {}).items()}

    def resources(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """Resource bodies by symbolic name, conditions and loops unwrapped."""
        found = {}
        for name, resource in self.data.get("resources", {}).items():
            if type_ is None or resource["type"] == type_:
                found[name] = {**unwrap(resource["config"]), "__type__": resource["type"],
                               "__existing__": resource["existing"]}
        return found

    def module(self, name: str) -> dict[str, Any]:
        return unwrap(self.data["modules"][name]["config"])

    def module_path(self, name: str) -> Path:
        relative = str(self.data["modules"][name]["detail"]["path"])
        return (self.path.parent / relative).resolve()

    def decorators(self, parameter: str) -> dict[str, Any]:
        return {d["type"]: d.get("argument") for d in self.parameters[parameter]["decorators"]}

    def resolve(self, expression: Any, bindings: Mapping[str, Any] | None = None) -> Any:
        """Evaluate what can be known before deployment; the rest becomes ``Unresolved``."""
        bindings = bindings or {}
        if isinstance(expression, str):
            if expression in self.parameters:
                if expression in bindings:
                    return bindings[expression]
                if "default" in self.parameters[expression]:
                    return self.resolve(self.parameters[expression]["default"], bindings)
                return Unresolved(expression)
            if expression in self.variables:
                return self.resolve(self.variables[expression], bindings)
            return _INTERPOLATION.sub(lambda m: self._interpolate(m, bindings), expression)
        if isinstance(expression, dict):
            if "operator" in expression:
                return self._operator(expression, bindings)
            if "function" in expression:
                return self._function(expression, bindings)
            return {k: self.resolve(v, bindings) for k, v in expression.items()}
        if isinstance(expression, list):
            return [self.resolve(v, bindings) for v in expression]
        return expression

    def _operator(self, expression: dict[str, Any], bindings: Mapping[str, Any]) -> Any:
        kind = expression["operator"]["type"]
        operands = expression["operator"]["operands"]
        if kind == "conditional":
            condition = self.resolve(operands["condition"], bindings)
            if isinstance(condition, bool):
                branch = operands["true_value"] if condition else operands["false_value"]
                return self.resolve(branch, bindings)
        elif kind in ("equals", "not_equals", "and", "or"):
            left = self.resolve(operands["operand_1"], bindings)
            right = self.resolve(operands["operand_2"], bindings)
            if not isinstance(left, Unresolved) and not isinstance(right, Unresolved):
                if kind == "and":
                    return bool(left and right)
                if kind == "or":
                    return bool(left or right)
                return (left == right) == (kind == "equals")
        elif kind == "not":
            value = self.resolve(operands["bool_value"], bindings)
            if isinstance(value, bool):
                return not value
        return Unresolved(expression)

    def _function(self, expression: dict[str, Any], bindings: Mapping[str, Any]) -> Any:
        function = expression["function"]
        arguments = {name: self.resolve(value, bindings)
                     for name, value in function.get("parameters", {}).items()}
        if any(isinstance(value, Unresolved) for value in arguments.values()):
            return Unresolved(expression)
        if function["type"] == "empty":
            return not arguments["item_to_test"]
        if function["type"] == "split":
            return str(arguments["input_string"]).split(str(arguments["delimiter"]))
        if function["type"] == "replace":
            return str(arguments["original_string"]).replace(str(arguments["old_string"]),
                                                             str(arguments["new_string"]))
        if function["type"] == "json":
            return json.loads(str(arguments["arg_1"]))
        return Unresolved(expression)

    def _interpolate(self, match: re.Match[str], bindings: Mapping[str, Any]) -> str:
        value = self.resolve(match.group(1), bindings)
        return value if isinstance(value, str) else match.group(0)


def unwrap(config: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource or module, without its ``if`` condition or ``for`` loop."""
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def literal_objects(expression: Any) -> Iterator[dict[str, Any]]:
    """Every object literal inside an expression, e.g. both branches of ``cond ? {...} : {...}``."""
    if isinstance(expression, dict):
        if "operator" not in expression and "function" not in expression:
            yield expression
        for value in expression.values():
            yield from literal_objects(value)
    elif isinstance(expression, list):
        for value in expression:
            yield from literal_objects(value)


# --- PowerShell ----------------------------------------------------------------------------------

_PARSE_POWERSHELL = """
import json, sys
import tree_sitter, tree_sitter_powershell
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
out = {}
for path in sys.argv[1:]:
    errors, stack = [], [parser.parse(open(path, "rb").read()).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            errors.append(f"line {node.start_point[0] + 1}: {node.text[:60]!r}")
        stack.extend(node.children)
    out[path] = errors
json.dump(out, sys.stdout)
"""


def powershell_syntax_errors(paths: list[Path]) -> dict[Path, list[str]]:
    """Syntax errors per PowerShell script, found with the tree-sitter PowerShell grammar (the
    tests cannot count on pwsh being installed)."""
    python = iac_tool("python")
    proc = subprocess.run([str(python), "-c", _PARSE_POWERSHELL, *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        pytest.fail(f"the PowerShell parser did not run:\n{proc.stderr[-4000:]}", pytrace=False)
    return {Path(p): errors for p, errors in json.loads(proc.stdout).items()}


# --- the function app --------------------------------------------------------------------------

_PROBE = """
import json, logging
logging.disable(logging.CRITICAL)
import function_app
specs = [
    {"name": f.get_function_name(), "bindings": [json.loads(b) for b in f.get_raw_bindings()]}
    for f in function_app.app.get_functions()
]
print(json.dumps(specs))
"""


def function_specs() -> list[dict[str, Any]]:
    """Name and bindings of every function in function_app.py, read in a fresh interpreter
    (``get_functions()`` may be called only once per app object)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                       os.environ.get("PYTHONPATH")]))},
    )
    if proc.returncode != 0:
        pytest.fail(f"function_app.py did not load:\n{proc.stderr[-4000:]}", pytrace=False)
    specs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(specs, list)
    return specs


# --- the deployment as a whole -----------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """main.bicep and its modules, so a module's parameters can be followed back to main."""

    templates: Mapping[Path, Template]

    @property
    def main(self) -> Template:
        return self.templates[MAIN]

    def module(self, file_name: str) -> Template:
        return self.templates[MODULES / file_name]

    def bindings(self, module_symbol: str,
                 parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The module's parameter values as main.bicep passes them (resolved where possible),
        with main.bicep's own parameters at their defaults or as given in ``parameters``."""
        params = self.main.module(module_symbol).get("params", {})
        return {name: self.main.resolve(value, parameters) for name, value in params.items()}

    def module_symbol(self, file_name: str) -> str:
        for symbol in self.main.data.get("modules", {}):
            if self.main.module_path(symbol) == (MODULES / file_name).resolve():
                return str(symbol)
        raise KeyError(f"main.bicep does not deploy modules/{file_name}")

    def resolve_in(self, file_name: str, expression: Any,
                   parameters: Mapping[str, Any] | None = None) -> Any:
        """Evaluate an expression of a module with the parameters main.bicep gives it."""
        module = self.module(file_name)
        return module.resolve(expression, self.bindings(self.module_symbol(file_name), parameters))


# --- parameter sets ------------------------------------------------------------------------------

_PARAM_LINE = re.compile(r"^param (\w+) (\w+)(?: = .*)?$")


def _bicep_literal(value: Any) -> str | None:
    """A scalar as Bicep source, or None for what cannot be written as a literal default."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "${" not in value:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return None


def _with_defaults(source: str, values: Mapping[str, Any]) -> str:
    lines = []
    for line in source.splitlines(keepends=True):
        match = _PARAM_LINE.match(line.rstrip("\n"))
        literal = _bicep_literal(values[match.group(1)]) if match and match.group(1) in values \
            else None
        if match and literal is not None:
            line = f"param {match.group(1)} {match.group(2)} = {literal}\n"
        lines.append(line)
    return "".join(lines)


def render_parameter_set(deployment: Deployment, parameters: Mapping[str, Any],
                         target: Path, keep_skips: bool = True,
                         stand_ins: Mapping[str, Any] | None = None) -> Path:
    """A copy of infra/ as one parameter set deploys it, for checkov, which reads neither
    parameter files nor the values main.bicep passes to a module, but does read a parameter's
    default: main.bicep's parameters get the set's values as defaults, and each module's
    parameters the values main.bicep passes it (where they are known before deployment; a
    value known only at deployment, such as a subnet's resource id, is taken from
    ``stand_ins`` by parameter name)."""
    for source in bicep_files():
        text = source.read_text(encoding="utf-8")
        if source == MAIN:
            text = _with_defaults(text, parameters)
        else:
            try:
                symbol = deployment.module_symbol(source.name)
            except KeyError:  # deployed by the postdeploy hook, with its own defaults
                symbol = None
            if symbol is not None:
                values = {name: (stand_ins or {}).get(name, value) if isinstance(value, Unresolved)
                          else value
                          for name, value in deployment.bindings(symbol, parameters).items()}
                text = _with_defaults(text, values)
        if not keep_skips:
            text = "".join(ln for ln in text.splitlines(keepends=True) if "checkov:skip=" not in ln)
        copy = target / source.relative_to(INFRA)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
    return target
