"""The Dockerfile installs this package, its ``k8s`` extra and nothing unpinned: its install line,
deploy/constraints.txt and pyproject.toml agree (no Docker daemon is needed to check that)."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytest.importorskip("kubernetes", reason="the k8s extra is not installed: pip install '.[k8s]'")

from resources.k8s_launcher import K8sAccelerateLauncher

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REGENERATE = "run `make constraints` in an environment where `make test` passes"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _pip_install() -> list[str]:
    """The words of the image's ``pip install`` command."""
    [run] = [args for kind, args in _instructions() if kind == "RUN" and "pip install" in args]
    command = run.split("pip install", 1)[1].split("&&", 1)[0]
    return shlex.split(command)


def _constraints() -> dict[str, str]:
    lines = (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
    pins = {}
    for line in lines:
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _runtime_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["k8s"]
    return [Requirement(line) for line in lines]


def test_the_image_installs_the_package_with_its_k8s_extra_under_the_constraints():
    words = _pip_install()
    assert ".[k8s]" in words
    assert words[words.index("--constraint") + 1] == "deploy/constraints.txt"
    copied = {
        source for kind, args in _instructions() if kind == "COPY" for source in args.split()[:-1]
    }
    packages = {
        name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert {"pyproject.toml", "README.md", "deploy/constraints.txt"} | packages <= copied


def test_every_runtime_requirement_is_pinned_to_a_version_pyproject_allows():
    pins = _constraints()
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in deploy/constraints.txt: {REGENERATE}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints pin {name}=={pins[name]}, pyproject wants {requirement}: {REGENERATE}"
        )


def test_torch_is_pinned_as_pyproject_pins_it():
    pins = _constraints()
    exact = {
        canonicalize_name(r.name): str(r.specifier)[2:]
        for r in _runtime_requirements()
        if str(r.specifier).startswith("==")
    }
    assert "torch" in exact and "torchvision" in exact
    for name, version in exact.items():
        assert pins[name] == version


def test_torch_variant_build_argument_chooses_cuda_or_cpu_wheels():
    [(_, arg)] = [(kind, args) for kind, args in _instructions() if kind == "ARG"]
    assert arg == "TORCH_VARIANT=cuda"
    [run] = [args for kind, args in _instructions() if kind == "RUN" and "pip install" in args]
    assert 'case "$TORCH_VARIANT" in' in run
    assert re.search(
        r"cpu\) torch_index=\"--extra-index-url https://download\.pytorch\.org/whl/cpu\"", run
    )
    assert "exit 1" in run  # an unknown variant stops the build


def test_the_image_runs_the_code_location_as_a_non_root_user():
    instructions = _instructions()
    [user] = [args for kind, args in instructions if kind == "USER"]
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert user == str(deployment["podSecurityContext"]["runAsUser"]) != "0"
    assert user == str(K8sAccelerateLauncher().run_as_user)  # training pods run as the same
    assert any(f"useradd --uid {user}" in args for kind, args in instructions if kind == "RUN")
    [cmd] = [args for kind, args in instructions if kind == "CMD"]
    assert cmd.endswith('"-m", "pipeline.definitions"]')
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "pipeline.definitions"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".cosmoalign", ".dagster", ".git"} <= set(ignored)
