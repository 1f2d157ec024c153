"""Which connections a set of Kubernetes NetworkPolicies allows, decided as the API defines it.

A connection from a pod to a pod's TCP port is allowed when both ends allow it:
the destination's ingress (no policy selecting it for Ingress: open; else some
ingress rule of such a policy matches the source and the port) and the source's
egress (likewise). A pod outside the policies' namespace is not selected by them,
so its own side is open. A peer is ``podSelector`` alone (pods of the policy's
namespace), ``namespaceSelector`` alone (every pod of matching namespaces), both
(matching pods of matching namespaces) or ``ipBlock`` (never a pod here); a rule
without ``from``/``to`` matches every peer, one without ``ports`` every port.
Only what the manifests use is modelled: ``matchLabels``, ``matchExpressions``
with ``In`` / ``NotIn`` / ``Exists``, numeric ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Pod:
    labels: Labels
    namespace: str
    namespace_labels: Labels = field(default_factory=dict)

    @property
    def all_namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def selects(selector: Mapping[str, Any], labels: Labels) -> bool:
    """A label selector (``{}`` selects everything)."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator not in ("In", "NotIn", "Exists"):
            raise ValueError(f"selector operator {operator} is not modelled")
    return True


def _peer_matches(peer: Mapping[str, Any], pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], pod.all_namespace_labels):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), pod.labels)


def _rule_matches(rule: Mapping[str, Any], peers_key: str, peer: Pod, port: int, ns: str) -> bool:
    ports = rule.get("ports")
    if ports and not any(
        p.get("port") in (None, port) and p.get("protocol", "TCP") == "TCP" for p in ports
    ):
        return False
    peers = rule.get(peers_key)
    return not peers or any(_peer_matches(candidate, peer, ns) for candidate in peers)


Direction = Literal["Ingress", "Egress"]


@dataclass(frozen=True)
class Policies:
    documents: list[dict[str, Any]]
    namespace: str

    def _selecting(self, pod: Pod, direction: Direction) -> list[dict[str, Any]]:
        if pod.namespace != self.namespace:
            return []
        return [
            policy
            for policy in self.documents
            if direction in policy["spec"].get("policyTypes", ["Ingress"])
            and selects(policy["spec"]["podSelector"], pod.labels)
        ]

    def _side_allows(self, pod: Pod, other: Pod, port: int, direction: Direction) -> bool:
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True
        rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        return any(
            _rule_matches(rule, peers_key, other, port, self.namespace)
            for policy in selecting
            for rule in policy["spec"].get(rules_key, [])
        )

    def allows(self, source: Pod, destination: Pod, port: int) -> bool:
        return self._side_allows(destination, source, port, "Ingress") and self._side_allows(
            source, destination, port, "Egress"
        )
