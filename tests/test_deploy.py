"""The deployment files (deploy/) parse and name only commands, ports, paths and routes that exist.

Docker cannot build here, so the Dockerfile is read line by line; the YAML files are parsed with
``yaml.safe_load_all``; the configurations they carry are validated with :mod:`rca.config`; the
probe and scrape paths are checked against the app's routes and the commands against the CLI's.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from rca.config import ServeSettings, Settings, load_settings

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DEFAULT_PORT = ServeSettings().port


def _docs(path: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, path
    return docs


def _k8s() -> dict[str, dict]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _docs(path):
            if "metadata" in doc:  # the kustomization has none
                out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def _routes() -> set[str]:
    from rca.api import create_app
    from rca.pipeline import Service

    settings = Settings(serve=ServeSettings(auth=False))
    return {getattr(r, "path", "") for r in create_app(Service(settings)).routes}


def _cli_commands() -> set[str]:
    import typer.main

    from rca.cli import app

    return set(typer.main.get_command(app).commands)


def _settings_from_text(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(text)
    return load_settings(cfg)


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    out, current = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert {p.name for p in files} >= {"docker-compose.yml", "prometheus.yml", "rca.yaml", "deployment.yaml",
                                       "service.yaml", "configmap.yaml", "pvc.yaml", "kustomization.yaml"}
    for path in files:
        assert _docs(path)


def test_dockerfile_is_slim_non_root_installs_the_package_checks_health_and_runs_serve() -> None:
    lines = _dockerfile()
    known = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "CMD", "VOLUME", "STOPSIGNAL",
             "ARG", "LABEL", "ENTRYPOINT"}
    assert all(word in known for word, _ in lines), [w for w, _ in lines if w not in known]
    args = {}
    for word, rest in lines:
        args.setdefault(word, []).append(rest)
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", args["FROM"][0])
    assert args["USER"][-1] not in ("root", "0") and "useradd" in " ".join(args["RUN"])
    for rest in args["COPY"]:  # every source is in the build context (the repository's root)
        *sources, _dest = rest.split()
        for src in sources:
            assert (ROOT / src).exists(), src
    packages = {p.split("*")[0] for p in re.findall(r'"([a-z_]+)\*"', (ROOT / "pyproject.toml").read_text())}
    copied = {s for rest in args["COPY"] for s in rest.split()[:-1]}
    assert packages <= copied, packages - copied  # every package of the distribution is copied
    assert any(re.search(r"\bpip install \.", r) for r in args["RUN"])
    assert args["EXPOSE"] == [str(DEFAULT_PORT)]
    health = args["HEALTHCHECK"][0]
    assert f"127.0.0.1:{DEFAULT_PORT}/healthz" in health and "/healthz" in _routes()
    cmd = json.loads(args["CMD"][-1])
    assert cmd[0] == "rca" and cmd[1] in _cli_commands() and cmd[1] == "serve"
    env = dict(shlex.split(e)[0].split("=", 1) for rest in args["ENV"] for e in re.findall(r"\S+=\S+", rest))
    assert env["RCA_SERVE__HOST"] == "0.0.0.0" and env["RCA_CONFIG"] == "/etc/whydunnit/rca.yaml"


def test_compose_runs_whydunnit_next_to_a_prometheus_that_scrapes_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    compose = _docs(DEPLOY / "docker-compose.yml")[0]
    app, prom = compose["services"]["whydunnit"], compose["services"]["prometheus"]
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    mounts = {m.split(":")[1]: m.split(":")[0] for m in app["volumes"]}
    config_file = DEPLOY / mounts[app["environment"]["RCA_CONFIG"]]
    settings = _settings_from_text(config_file.read_text(), tmp_path, monkeypatch)
    assert app["ports"] == [f"{settings.serve.port}:{settings.serve.port}"] and settings.serve.host == "0.0.0.0"
    assert settings.serve.token_files == [Path("/run/secrets/api_token")] and "api_token" in app["secrets"]
    assert settings.prometheus.url == "http://prometheus:9090" and all(j.collect for j in settings.jobs)
    prom_mounts = {m.split(":")[1]: m.split(":")[0] for m in prom["volumes"]}
    prom_config = _docs(DEPLOY / prom_mounts["/etc/prometheus/prometheus.yml"])[0]
    scrape = next(s for s in prom_config["scrape_configs"] if s["job_name"] == "whydunnit")
    assert scrape["metrics_path"] in _routes()
    assert scrape["static_configs"][0]["targets"] == [f"whydunnit:{settings.serve.port}"]
    assert scrape["authorization"]["credentials_file"] == "/run/secrets/api_token" and "api_token" in prom["secrets"]
    assert compose["secrets"]["api_token"]["file"].startswith("./secrets/")
    assert "secrets/" in (DEPLOY / ".gitignore").read_text()


def test_kubernetes_manifests_agree_with_each_other_and_with_the_package(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    objs = _k8s()
    kustomization = _docs(K8S / "kustomization.yaml")[0]
    assert all((K8S / r).is_file() for r in kustomization["resources"])
    assert "secret.example.yaml" not in kustomization["resources"]
    deployment = objs["Deployment/whydunnit"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    # The command is `rca serve --config <the ConfigMap's file>`.
    command = container["command"] + container["args"]
    assert command[:2] == ["rca", "serve"] and "serve" in _cli_commands()
    config_path = Path(command[command.index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    config_volume = next(n for n, p in mounts.items() if Path(p) == config_path.parent)
    configmap = objs[f"ConfigMap/{volumes[config_volume]['configMap']['name']}"]
    settings = _settings_from_text(configmap["data"][config_path.name], tmp_path, monkeypatch)

    # Ports and probes: the container port is the configured one; probes hit routes of the app.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": settings.serve.port} and settings.serve.port == DEFAULT_PORT
    assert settings.serve.host == "0.0.0.0"
    routes = _routes()
    probes = {k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz" and probes["readinessProbe"]["path"] == "/readyz"
    assert all(p["path"] in routes and p["port"] in ports for p in probes.values())
    service = objs["Service/whydunnit"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert all(p["targetPort"] in ports for p in service["spec"]["ports"])

    # The store and reports live on the claim; SIGTERM's grace fits in the pod's.
    data_volume = next(n for n, v in volumes.items() if "persistentVolumeClaim" in v)
    assert objs[f"PersistentVolumeClaim/{volumes[data_volume]['persistentVolumeClaim']['claimName']}"]
    assert Path(settings.data_dir).is_relative_to(mounts[data_volume])
    assert Path(settings.reports.out_dir).is_relative_to(mounts[data_volume])
    assert settings.store_url.startswith(f"sqlite:///{mounts[data_volume]}/")
    assert settings.serve.shutdown_grace_s + 5 <= pod["spec"]["terminationGracePeriodSeconds"]

    # Every secret the configuration names comes from the Secret, by environment variable.
    env = {e["name"]: e for e in container["env"]}
    named = set(settings.serve.token_env) | {c.url_env for c in settings.notify.channels if c.url_env}
    assert named and named <= set(env)
    secret = _docs(K8S / "secret.example.yaml")[0]
    for name in named:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    assert "token" not in json.dumps(configmap["data"]).replace("token_env", "")  # no secret value in the ConfigMap
    assert {j.name for j in settings.jobs} == {"collect-nightly", "weekly-report"}
