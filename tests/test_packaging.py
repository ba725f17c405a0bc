"""The wheel holds the whole add-on: built, installed into a fresh virtualenv and run from there.

What the repository has but the wheel lacks (a template, a static file, a migration) only
shows once someone installs the package, so these tests install it and use it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# All a wheel build reads.
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "addon")

# Run by the installed package's Python, from a directory outside the repository.
TINY_APP = """
import json
import sys
from pathlib import Path

from flask import Flask, url_for
from sqlalchemy import inspect

import addon
from addon import IntegrationEngine
from addon.web.webhooks import sign

here = Path.cwd()
app = Flask("tiny_shop")
app.config.update(
    SECRET_KEY="tiny",
    SQLALCHEMY_DATABASE_URI=f"sqlite:///{here / 'shop.db'}",
    ADDON_ENCRYPTION_KEY="qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA=",
    ADDON_WEBHOOK_SECRET="tiny-secret",
)
engine = IntegrationEngine(app)
engine.marketplace_loader(lambda: "acme")
with app.app_context():
    engine.prepare_database()
    tables = sorted(inspect(engine.db.engine).get_table_names())

client = app.test_client()
package = Path(addon.__file__).parent
static = {}
for path in sorted((package / "static").rglob("*")):
    if path.is_file():
        name = path.relative_to(package / "static").as_posix()
        with app.test_request_context():
            url = url_for("addon.static", filename=name)
        response = client.get(url)
        static[name] = [response.status_code, response.data == path.read_bytes()]
        response.close()
templates = [t for t in app.jinja_env.list_templates() if t.startswith("addon/")]
for name in templates:
    app.jinja_env.get_template(name)  # compiles: present and readable
body = json.dumps({
    "id": "o-1", "type": "product.purchased", "marketplace_id": "acme",
    "customer": {"email": "ann@example.com"}, "product_id": "101", "purchase_type": "primary",
}).encode()
webhook = client.post(
    "/integrations/api/events", data=body,
    headers={"X-Addon-Signature": sign(body, "tiny-secret"), "Content-Type": "application/json"},
)
print(json.dumps({
    "addon": addon.__file__,
    "tables": tables,
    "page": client.get("/integrations/").status_code,
    "static": static,
    "templates": len(templates),
    "webhook": webhook.status_code,
}))
"""


def source_files() -> set[str]:
    """The package's files as the repository has them (tracked or about to be)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "addon"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        files = {name for name in listed if name and (ROOT / name).is_file()}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "addon").rglob("*")}
    return {
        name
        for name in files
        if "__pycache__" not in name and not name.endswith(".pyc") and (ROOT / name).is_file()
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (no build/ or egg-info in the repository)."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    [built] = out.glob("addon_icontact-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("addon/")}

    missing = source_files() - packed
    assert not missing, f"setup.cfg [options.package_data] misses: {sorted(missing)}"
    assert {
        "addon/store/migrations/env.py",
        "addon/store/migrations/script.py.mako",
        "addon/store/migrations/versions/0001_initial_schema.py",
    } <= packed


def test_the_installed_wheel_migrates_and_serves_pages_outside_the_repository(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "tiny_app.py").write_text(TINY_APP)
    # The dependencies come from the project's environment; the add-on only from the wheel.
    libraries = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "SQLALCHEMY_", "ADDON_", "FLASK_"))
    }
    env.update(PYTHONPATH=os.pathsep.join(sorted(libraries)), PYTHONNOUSERSITE="1")
    result = subprocess.run(
        [str(python), "tiny_app.py"],
        cwd=shop,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert Path(report["addon"]).is_relative_to(venv)  # not the repository's copy
    assert {"addon_alembic_version", "addon_integration", "addon_delivery"} <= set(report["tables"])
    assert report["page"] == 200
    assert report["static"] and all(ok == [200, True] for ok in report["static"].values())
    assert report["templates"] >= 1
    assert report["webhook"] == 202
