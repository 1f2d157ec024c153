"""infra/k8s as ``kubectl kustomize`` renders it: valid, restricted, and wired together.

No cluster runs here (no container runtime, no image registry), so the rendered
base is checked instead: every core resource against Kubernetes' own schemas
(``kubernetes-validate``, strict), the ScaledObjects against KEDA's CRD vendored
from its repository (tests/infra/vendored/README.md), every pod template against
the restricted Pod Security Standard, and the references between the pieces
(Services, Secrets, the NATS configuration, the KEDA endpoint, the network
policies the issue lists) by reading them.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import stat
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from connmgr.runtime.cli import build_parser
from connmgr.runtime.keyfiles import mount_refusal
from connmgr.runtime.pools import WORKERS
from connmgr.schemas.bus.consumers import ALL_DURABLES
from support.network_policy import Pod, Policies
from support.services import service_unavailable

ROOT = Path(__file__).parents[2]
K8S = ROOT / "infra" / "k8s"
VENDORED = Path(__file__).parent / "vendored"
KEDA_CRD = VENDORED / "keda.sh_scaledobjects-v2.20.2.yaml"
KUBERNETES_VERSION = "1.32.0"  # Debian's kubectl; the oldest API these manifests target
NAMESPACE = "connmgr"
APP_UID = 10001  # the Dockerfile's USER

Doc = dict[str, Any]


@cache
def _rendered() -> tuple[Doc, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        service_unavailable("kubectl", "Debian's kubectl package renders the base (.ci/run)")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=True, timeout=120
    )
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def collected(kind: str | None = None) -> list[Doc]:
    """``rendered(kind)`` for parametrizing: empty without kubectl, whose absence the
    tests that are not parametrized report (a failure under CONNMGR_REQUIRE_SERVICES=1)."""
    return rendered(kind) if shutil.which("kubectl") else []


def collected_workloads() -> list[Doc]:
    return [d for d in collected() if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def rendered(kind: str | None = None) -> list[Doc]:
    return [copy.deepcopy(d) for d in _rendered() if kind is None or d["kind"] == kind]


def named(kind: str, name: str) -> Doc:
    (found,) = [d for d in rendered(kind) if d["metadata"]["name"] == name]
    return found


def workloads() -> list[Doc]:
    return [d for d in rendered() if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def ids(documents: list[Doc]) -> list[str]:
    return [f"{d['kind']}/{d['metadata']['name']}" for d in documents]


def pyproject_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


# -- valid against the schemas ------------------------------------------------------


def test_the_base_renders_every_piece_in_one_namespace() -> None:
    kinds = {d["kind"] for d in rendered()}
    assert {"Namespace", "ConfigMap", "Service", "Deployment", "StatefulSet", "Job"} <= kinds
    assert {"ScaledObject", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    assert {d["metadata"].get("namespace") for d in rendered() if d["kind"] != "Namespace"} == {
        NAMESPACE
    }
    assert named("Namespace", NAMESPACE)


def core_resources() -> list[Doc]:
    return [d for d in collected() if d["kind"] != "ScaledObject"]


@pytest.mark.parametrize("document", core_resources(), ids=ids(core_resources()))
def test_every_core_resource_is_valid_for_kubernetes(document: Doc) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_refuses_a_wrong_type_and_an_unknown_field() -> None:
    deployment = named("Deployment", "connmgr-encryptor")
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    unknown = copy.deepcopy(deployment)
    pod_spec(unknown)["containers"][0]["securityContxt"] = {}
    for broken in (wrong_type, unknown):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@cache
def keda_schema() -> Doc:
    """The v1alpha1 schema of KEDA's CRD, strict as the API server's field validation:
    an object with listed properties takes no others (unless the CRD keeps unknowns)."""
    crd = yaml.safe_load(KEDA_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: Doc = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for child in node.values():
                close(child)
        elif isinstance(node, list):
            for child in node:
                close(child)

    close(schema)
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


@pytest.mark.parametrize("scaled", collected("ScaledObject"), ids=ids(collected("ScaledObject")))
def test_every_scaled_object_is_valid_for_kedas_crd(scaled: Doc) -> None:
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    jsonschema.Draft7Validator(keda_schema()).validate(scaled)


def test_kedas_schema_refuses_a_misspelt_field_and_a_missing_target() -> None:
    scaled = named("ScaledObject", "connmgr-encryptor")
    misspelt = copy.deepcopy(scaled)
    misspelt["spec"]["minReplicaCounts"] = 2
    untargeted = copy.deepcopy(scaled)
    del untargeted["spec"]["scaleTargetRef"]
    for broken in (misspelt, untargeted):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft7Validator(keda_schema()).validate(broken)


# -- the restricted Pod Security Standard --------------------------------------------

ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def restricted_violations(workload: Doc) -> list[str]:
    """Each way the pod template breaks the restricted profile, or the brief's additions
    (a numeric non-root ``runAsUser``, a read-only root file system)."""
    spec = pod_spec(workload)
    pod = spec.get("securityContext", {})
    found = [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    found += [
        f"volume {v['name']}: {set(v) - {'name'}}"
        for v in spec.get("volumes", [])
        if not set(v) - {"name"} <= ALLOWED_VOLUMES
    ]
    if pod.get("sysctls"):
        found.append("sysctls")
    for container in spec.get("initContainers", []) + spec["containers"]:
        found += [f"{container['name']}: {v}" for v in _container_violations(container, pod)]
    return found


def _container_violations(container: Doc, pod: Doc) -> list[str]:
    own = container.get("securityContext", {})

    def effective(key: str) -> Any:
        return own.get(key, pod.get(key))

    found = []
    if effective("runAsNonRoot") is not True:
        found.append("runAsNonRoot is not true")
    user = effective("runAsUser")
    if not isinstance(user, int) or isinstance(user, bool) or user <= 0:
        found.append(f"runAsUser {user!r} is not a numeric non-root uid")
    if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
        found.append("seccompProfile is not RuntimeDefault")
    if own.get("allowPrivilegeEscalation") is not False:
        found.append("allowPrivilegeEscalation is not false")
    if own.get("privileged"):
        found.append("privileged")
    capabilities = own.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []):
        found.append("capabilities do not drop ALL")
    if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
        found.append(f"capabilities add {capabilities['add']}")
    if own.get("readOnlyRootFilesystem") is not True:
        found.append("readOnlyRootFilesystem is not true")
    if any("hostPort" in port for port in container.get("ports", [])):
        found.append("hostPort")
    return found


@pytest.mark.parametrize("workload", collected_workloads(), ids=ids(collected_workloads()))
def test_every_pod_template_meets_the_restricted_pod_security_standard(workload: Doc) -> None:
    assert restricted_violations(workload) == []


def test_the_restricted_check_names_each_missing_field() -> None:
    workload = named("Deployment", "connmgr-encryptor")
    assert restricted_violations(workload) == []
    spec = pod_spec(workload)
    del spec["securityContext"]["seccompProfile"]
    spec["securityContext"]["runAsUser"] = 0
    container = spec["containers"][0]
    container["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}}
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert restricted_violations(workload) == [
        "volume host: {'hostPath'}",
        "encryptor: runAsUser 0 is not a numeric non-root uid",
        "encryptor: seccompProfile is not RuntimeDefault",
        "encryptor: allowPrivilegeEscalation is not false",
        "encryptor: capabilities do not drop ALL",
        "encryptor: capabilities add ['NET_ADMIN']",
        "encryptor: readOnlyRootFilesystem is not true",
    ]


def test_the_namespace_enforces_the_restricted_standard() -> None:
    labels = named("Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_connmgr_pods_run_as_the_images_user() -> None:
    dockerfile_user = re.findall(r"^USER (\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert dockerfile_user == [f"{APP_UID}:{APP_UID}"]
    for workload in workloads():
        if pod_spec(workload)["containers"][0]["image"].startswith("connmgr:"):
            context = pod_spec(workload)["securityContext"]
            assert (context["runAsUser"], context["runAsGroup"]) == (APP_UID, APP_UID)


# -- probes, jobs, images, disruption -----------------------------------------------

CONNMGR = [
    w for w in collected_workloads() if pod_spec(w)["containers"][0]["image"].startswith("connmgr:")
]


@pytest.mark.parametrize("workload", CONNMGR, ids=ids(CONNMGR))
def test_each_connmgr_container_runs_a_real_command(workload: Doc) -> None:
    (container,) = pod_spec(workload)["containers"]
    build_parser().parse_args(container["args"])


def test_every_worker_is_deployed_and_outlives_its_shutdown_grace() -> None:
    for worker in WORKERS:
        deployment = named("Deployment", f"connmgr-{worker}")
        assert deployment["spec"]["replicas"] >= 1
        (container,) = pod_spec(deployment)["containers"]
        grace = float(
            {e["name"]: e.get("value") for e in container["env"]}["CONNMGR_SHUTDOWN_GRACE_S"]
        )
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > grace


LONG_RUNNING = [d for d in collected_workloads() if d["kind"] != "Job"]


@pytest.mark.parametrize("workload", LONG_RUNNING, ids=ids(LONG_RUNNING))
def test_every_long_running_pod_has_liveness_and_readiness_probes(workload: Doc) -> None:
    for container in pod_spec(workload)["containers"]:
        for probe in ("livenessProbe", "readinessProbe"):
            port = container[probe]["httpGet"]["port"]
            assert port in {p["name"] for p in container["ports"]}, (probe, port)


@pytest.mark.parametrize("worker", WORKERS)
def test_each_worker_is_probed_on_its_health_port(worker: str) -> None:
    (container,) = pod_spec(named("Deployment", f"connmgr-{worker}"))["containers"]
    assert container["args"] == ["worker", worker]
    assert container["ports"] == [{"name": "probes", "containerPort": 8081}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["CONNMGR_HEALTH_HOST"], env["CONNMGR_HEALTH_PORT"]) == ("0.0.0.0", "8081")
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_api_is_probed_and_served() -> None:
    (container,) = pod_spec(named("Deployment", "connmgr-api"))["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = named("Service", "connmgr-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= pod_labels("connmgr-api").items()


@pytest.mark.parametrize("job", collected("Job"), ids=ids(collected("Job")))
def test_every_job_can_run_again_and_cannot_hang(job: Doc) -> None:
    assert job["spec"]["ttlSecondsAfterFinished"] <= 600
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def test_the_jobs_migrate_and_declare_the_streams_replicated() -> None:
    assert pod_spec(named("Job", "connmgr-migrate"))["containers"][0]["args"] == ["migrate"]
    streams = pod_spec(named("Job", "connmgr-streams"))["containers"][0]["args"]
    assert streams == ["streams", "ensure", "--replicas", str(named_nats_replicas())]


def named_nats_replicas() -> int:
    replicas: int = named("StatefulSet", "connmgr-nats")["spec"]["replicas"]
    return replicas


def test_every_image_is_pinned_by_version() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    images = {c["image"] for w in workloads() for c in pod_spec(w)["containers"]}
    assert images == {f"connmgr:{pyproject_version()}", compose["services"]["nats"]["image"]}
    for image in images:
        assert re.fullmatch(r"[a-z0-9.-]+:\d+\.\d+\.\d+(-[a-z0-9]+)?", image), image


@pytest.mark.parametrize("workload", LONG_RUNNING, ids=ids(LONG_RUNNING))
def test_every_long_running_workload_has_a_disruption_budget(workload: Doc) -> None:
    labels = pod_labels(workload["metadata"]["name"], workload["kind"])
    budgets = [
        b
        for b in rendered("PodDisruptionBudget")
        if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert [b["spec"] for b in budgets] == [
        {"maxUnavailable": 1, "selector": budgets[0]["spec"]["selector"]}
    ]


def pod_labels(name: str, kind: str = "Deployment") -> dict[str, str]:
    labels: dict[str, str] = named(kind, name)["spec"]["template"]["metadata"]["labels"]
    return labels


# -- secrets -------------------------------------------------------------------------


def secret_references() -> set[tuple[str, str]]:
    """(secret, key) of every env reference, and (secret, "*") of every volume."""
    found = set()
    for workload in workloads():
        spec = pod_spec(workload)
        for container in spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    found.add((ref["name"], ref["key"]))
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                found.add((volume["secret"]["secretName"], "*"))
    return found


def test_the_secret_template_has_every_secret_and_key_the_pods_read() -> None:
    template = [d for d in yaml.safe_load_all((K8S / "secrets.template.yaml").read_text()) if d]
    keys = {(s["metadata"]["name"], key) for s in template for key in s["stringData"]}
    wanted = secret_references()
    assert {(name, key) for name, key in wanted if key != "*"} <= keys
    assert {name for name, _ in wanted} == {s["metadata"]["name"] for s in template}
    for secret in template:
        kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)


def test_the_base_never_applies_a_secret() -> None:
    """`kubectl apply -k` again must never reset a key ring to the template's placeholder."""
    assert rendered("Secret") == []
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "secrets.template.yaml" not in kustomization["resources"]


def secret_volumes() -> list[tuple[Doc, Doc]]:
    return [
        (workload, volume)
        for workload in collected_workloads()
        for volume in pod_spec(workload).get("volumes", [])
        if "secret" in volume
    ]


@pytest.mark.parametrize(
    ("workload", "volume"),
    secret_volumes(),
    ids=[f"{w['metadata']['name']}-{v['name']}" for w, v in secret_volumes()],
)
def test_a_mounted_secret_is_readable_under_the_key_ring_mount_rule(
    workload: Doc, volume: Doc
) -> None:
    """What the kubelet makes of the volume (mode | 0440 with fsGroup, group fsGroup, in
    a root-owned 0755 directory with setgid) is what ``mount_refusal`` accepts for the
    pod's own uid and gid, and no wider."""
    context = pod_spec(workload)["securityContext"]
    mode = volume["secret"]["defaultMode"]
    assert mode == 0o440
    file = _stat(stat.S_IFREG | mode | 0o440, uid=0, gid=context["fsGroup"])
    directory = _stat(stat.S_IFDIR | 0o2755, uid=0, gid=context["fsGroup"])
    assert context["fsGroup"] == context["runAsGroup"]
    assert mount_refusal(file, directory, context["runAsUser"], context["runAsGroup"]) is None


def _stat(mode: int, *, uid: int, gid: int) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))


# -- NATS, and KEDA's endpoint --------------------------------------------------------


def test_nats_runs_the_shipped_cluster_configuration() -> None:
    statefulset = named("StatefulSet", "connmgr-nats")
    (container,) = pod_spec(statefulset)["containers"]
    assert container["args"][:2] == ["-c", "/etc/nats/cluster.conf"]
    (config,) = [v for v in pod_spec(statefulset)["volumes"] if v["name"] == "config"]
    (configmap,) = rendered("ConfigMap")
    assert config["configMap"]["name"] == configmap["metadata"]["name"]
    infra_nats = ROOT / "infra" / "nats"
    assert configmap["data"] == {p.name: p.read_text() for p in infra_nats.glob("*.conf")}
    env = {e["name"] for e in container["env"]}
    variable = re.compile(r"^\s*[\w]+\s*:\s*\$([A-Z_]+)\s*$", re.M)
    read = set(variable.findall((infra_nats / "cluster.conf").read_text()))
    read |= set(variable.findall((infra_nats / "accounts.conf").read_text()))
    assert "CONNMGR_NATS_ROUTES" in read
    assert len(read) == 11
    assert read <= env


def test_nats_routes_reach_each_node_with_the_route_password() -> None:
    statefulset = named("StatefulSet", "connmgr-nats")
    env = {e["name"]: e for e in pod_spec(statefulset)["containers"][0]["env"]}
    names = [e for e in env]
    assert names.index("CONNMGR_NATS_ROUTE_PASSWORD") < names.index("CONNMGR_NATS_ROUTES")
    routes = env["CONNMGR_NATS_ROUTES"]["value"]
    service = statefulset["spec"]["serviceName"]
    expected = [
        f"nats-route://route:$(CONNMGR_NATS_ROUTE_PASSWORD)@connmgr-nats-{n}.{service}:6222"
        for n in range(named_nats_replicas())
    ]
    assert routes == f"[{', '.join(expected)}]"


@pytest.mark.parametrize("scaled", collected("ScaledObject"), ids=ids(collected("ScaledObject")))
def test_kedas_endpoint_and_consumers_exist(scaled: Doc) -> None:
    durables = {(stream, spec.durable) for stream, spec in ALL_DURABLES}
    config = (ROOT / "infra/nats/cluster.conf").read_text()
    (monitor_port,) = map(int, re.findall(r"^http_port: (\d+)$", config, re.M))
    target = named("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    assert scaled["spec"]["minReplicaCount"] == target["spec"]["replicas"]
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        host, port = meta["natsServerMonitoringEndpoint"].rsplit(":", 1)
        service_name, namespace, *rest = host.split(".")
        assert (namespace, rest, int(port)) == (
            NAMESPACE,
            ["svc", "cluster", "local"],
            monitor_port,
        )
        service = named("Service", service_name)
        assert int(port) in {p["port"] for p in service["spec"]["ports"]}
        nats_pod = pod_spec(named("StatefulSet", "connmgr-nats"))["containers"][0]
        assert int(port) in {p["containerPort"] for p in nats_pod["ports"]}
        assert (
            service["spec"]["selector"].items() <= pod_labels("connmgr-nats", "StatefulSet").items()
        )
        assert (meta["stream"], meta["consumer"]) in durables
        assert meta["account"] == "CONNMGR"


# -- network policies, as the issue lists them ----------------------------------------


def policies() -> Policies:
    return Policies(rendered("NetworkPolicy"), NAMESPACE)


def inside(component: str) -> Pod:
    labels = pod_labels(
        f"connmgr-{component}", "Job" if component in ("migrate", "streams") else "Deployment"
    )
    return Pod(labels, NAMESPACE)


NATS = Pod({"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "broker"}, NAMESPACE)
POSTGRES_HERE = Pod({"app.kubernetes.io/name": "postgresql"}, NAMESPACE)
MANAGED_POSTGRES = Pod({}, "outside-the-cluster")
PRODUCER = Pod({"app": "orders"}, "orders")
KEDA = Pod({"app.kubernetes.io/name": "keda-operator"}, "keda")
PROMETHEUS = Pod({"app.kubernetes.io/name": "prometheus"}, "monitoring")
INTRUDER = Pod({"app": "debug"}, NAMESPACE)


def test_the_api_and_the_nats_client_port_are_open_to_producers_outside() -> None:
    assert policies().allows(PRODUCER, inside("api"), 8080)
    assert policies().allows(PRODUCER, NATS, 4222)
    assert not policies().allows(PRODUCER, NATS, 8222)
    assert not policies().allows(PRODUCER, NATS, 6222)
    assert not policies().allows(PRODUCER, inside("encryptor"), 8081)


def test_nats_monitoring_is_for_keda_and_prometheus_and_metrics_for_prometheus() -> None:
    assert policies().allows(KEDA, NATS, 8222)
    assert policies().allows(PROMETHEUS, NATS, 8222)
    for worker in WORKERS:
        assert policies().allows(PROMETHEUS, inside(worker), 8081)
        assert not policies().allows(KEDA, inside(worker), 8081)
        assert not policies().allows(inside("tester"), inside(worker), 8081)
    assert not policies().allows(inside("tester"), NATS, 8222)
    assert not policies().allows(
        Pod({"app.kubernetes.io/name": "keda-operator"}, "other"), NATS, 8222
    )


@pytest.mark.parametrize(
    "postgres", [POSTGRES_HERE, MANAGED_POSTGRES], ids=["in-namespace", "managed"]
)
def test_postgresql_is_reached_by_the_pools_the_api_and_migrate_only(postgres: Pod) -> None:
    for component in [*WORKERS, "api", "migrate"]:
        assert policies().allows(inside(component), postgres, 5432), component
    for other in (inside("streams"), NATS, INTRUDER):
        assert not policies().allows(other, postgres, 5432)
    if postgres is POSTGRES_HERE:
        assert not policies().allows(PRODUCER, postgres, 5432)


def test_everything_else_is_denied() -> None:
    for worker in WORKERS:
        assert policies().allows(inside(worker), NATS, 4222)
    assert policies().allows(inside("streams"), NATS, 4222)
    assert policies().allows(NATS, NATS, 6222)
    for source, destination, port in [
        (inside("api"), NATS, 4222),
        (inside("migrate"), NATS, 4222),
        (INTRUDER, NATS, 4222),
        (INTRUDER, inside("api"), 8080),
        (inside("relay"), PRODUCER, 443),
        (inside("encryptor"), PRODUCER, 443),
        (inside("api"), PRODUCER, 443),
        (NATS, PRODUCER, 443),
        (PRODUCER, inside("tester"), 8081),
    ]:
        assert not policies().allows(source, destination, port), (source, destination, port)
    for checker in ("tester", "prober", "notifier"):
        assert policies().allows(inside(checker), PRODUCER, 443)


# -- the README's first run ------------------------------------------------------------


def kubernetes_first_run() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index("<!-- first-run: kubernetes") :]
    block: str = re.findall(r"```sh\n(.*?)```", after, re.DOTALL)[0]
    return block


def test_the_readme_creates_exactly_the_secrets_the_pods_read() -> None:
    """The first run's ``kubectl create secret`` lines name each Secret and key of
    secrets.template.yaml, no more and no fewer."""
    commands = re.split(r"\n(?=kubectl )", kubernetes_first_run().replace("\\\n", " "))
    created = set()
    for command in commands:
        secret = re.search(r"create secret generic (\S+)", command)
        if secret:
            keys = re.findall(r"--from-(?:literal|file)=([\w.-]+)=", command)
            created |= {(secret[1], key) for key in keys}
    template = [d for d in yaml.safe_load_all((K8S / "secrets.template.yaml").read_text()) if d]
    assert created == {(s["metadata"]["name"], key) for s in template for key in s["stringData"]}


def test_the_readme_applies_the_namespace_then_the_base() -> None:
    block = kubernetes_first_run()
    namespace = block.index("kubectl apply -f infra/k8s/namespace.yaml")
    assert namespace < block.index("create secret") < block.index("kubectl apply -k infra/k8s")
    assert "job/connmgr-migrate job/connmgr-streams" in block
