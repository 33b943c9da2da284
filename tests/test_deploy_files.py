"""What Heroku reads (app.json, Procfile, .python-version) agrees with itself and with the settings."""

import json
import pathlib
import re
import secrets
import sys

from shopsync import create_app

ROOT = pathlib.Path(__file__).resolve().parent.parent
APP = json.loads((ROOT / "app.json").read_text())
# Each add-on sets <as>_URL; the service reads these two.
ADD_ON_SETTINGS = {"heroku-postgresql": "DATABASE_URL", "heroku-redis": "REDIS_URL"}
# What README's Deployment section says a deployment must set besides the add-ons' URLs.
NEEDED = {"SECRET_KEY", "SHOPSYNC_ADMIN_TOKEN", "SHOPIFY_SHOP", "SHOPIFY_CLIENT_ID",
          "SHOPIFY_CLIENT_SECRET"}


def _procfile():
    """Return {process type: command} from the Procfile."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def _readme_settings():
    """Return the names in README's settings table."""
    return set(re.findall(r"^\| `([A-Z_]+)`", (ROOT / "README.md").read_text(), re.M))


def test_the_formation_runs_every_procfile_process_and_the_release_phase_migrates():
    procfile = _procfile()
    assert procfile["release"] == "flask --app wsgi init-db"
    assert set(APP["formation"]) == set(procfile) - {"release"}
    assert all(spec["quantity"] >= 1 for spec in APP["formation"].values())


def test_the_add_ons_provide_the_database_and_redis_urls():
    attached = {addon["plan"].split(":")[0]: f"{addon['as']}_URL" for addon in APP["addons"]}
    assert attached == ADD_ON_SETTINGS
    assert set(ADD_ON_SETTINGS.values()) <= _readme_settings()


def test_every_needed_setting_is_asked_for_or_generated_and_all_are_documented():
    env = APP["env"]
    assert NEEDED <= set(env)
    assert set(env) <= _readme_settings()
    assert {name for name, spec in env.items() if spec.get("generator") == "secret"} == {
        "SECRET_KEY", "SHOPSYNC_ADMIN_TOKEN"}
    asked = {name for name, spec in env.items() if "value" not in spec and "generator" not in spec}
    assert {name for name in asked if env[name].get("required", True)} == NEEDED - {
        "SECRET_KEY", "SHOPSYNC_ADMIN_TOKEN"}


def test_the_service_starts_on_the_configuration_app_json_makes(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPSYNC_ENV_FILE", "/nonexistent")
    for name, spec in APP["env"].items():  # as Heroku fills them in, asked ones with a sample
        value = secrets.token_hex(32) if spec.get("generator") == "secret" else spec.get("value", "x")
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/shopsync.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app()
    assert app.config["REDIS_TLS_VERIFY"] is False and app.config["SESSION_COOKIE_SECURE"] is True


def test_python_version_is_the_one_the_pins_are_tested_with():
    wanted = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", wanted), "major.minor, so the buildpack applies security releases"
    assert wanted == f"{sys.version_info.major}.{sys.version_info.minor}"
