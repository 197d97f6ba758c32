"""A small Kustomize renderer: what ``kustomize build`` prints, with no binary and no cluster.

``render(directory)`` reads ``directory/kustomization.yaml`` and returns its resources, as
mappings, after applying what the kustomization says. It supports exactly the fields deploy/k8s
uses: ``resources`` (files and directories, rendered recursively), ``namespace`` (set on every
namespaced resource), ``images`` (``name`` matched, ``newName``, ``newTag`` and ``digest``
applied), ``replicas`` (on Deployments, StatefulSets and ReplicaSets) and JSON 6902 ``patches``
(``add``, ``replace`` and ``remove``, targeted by ``kind`` and ``name``, inline or from a file).
It fails, with an assertion naming the field, on any other kustomization field, patch field,
patch target field or patch operation, so that something it would silently ignore cannot creep
in.

Beside it, the helpers the tests read resources with: every container in a resource, an image
reference's parts, a resource's identity, and the resources of one kind by name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]


KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "images",
    "replicas",
    "patches",
}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
}
SCALABLE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet"}


def load_documents(path: Path) -> list[Resource]:
    documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    for doc in documents:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
    return documents


def pointer_tokens(path: str) -> list[str]:
    assert path.startswith("/"), f"JSON pointer {path!r} does not start with /"
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def json6902(document: Resource, operations: list[dict[str, Any]]) -> None:
    """Apply ``operations`` (RFC 6902 add, replace and remove) to ``document`` in place."""
    for operation in operations:
        op = operation["op"]
        *parents, last = pointer_tokens(operation["path"])
        node: Any = document
        for token in parents:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if op == "add":
            value = copy.deepcopy(operation["value"])
            if isinstance(node, list):
                node.insert(len(node) if last == "-" else int(last), value)
            else:
                node[last] = value
        elif op == "replace":
            if isinstance(node, list):
                node[int(last)] = copy.deepcopy(operation["value"])
            else:
                assert last in node, f"replace of {operation['path']}, which is absent"
                node[last] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise AssertionError(f"JSON 6902 op {op!r} is not supported by the test renderer")


def matches(resource: Resource, target: dict[str, str]) -> bool:
    unknown = set(target) - {"kind", "name"}
    assert not unknown, f"patch target fields {unknown} are not supported by the test renderer"
    return all(
        (resource["kind"] if key == "kind" else resource["metadata"]["name"]) == value
        for key, value in target.items()
    )


def apply_patches(directory: Path, resources: list[Resource], patches: list[Any]) -> None:
    for patch in patches:
        assert set(patch) <= {"path", "patch", "target"}, f"unsupported patch fields {patch}"
        text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
        operations = yaml.safe_load(text)
        assert isinstance(operations, list), (
            "only JSON 6902 patches (a list of operations) are supported by the test renderer"
        )
        targets = [r for r in resources if matches(r, patch["target"])]
        assert targets, f"{directory}: patch target {patch['target']} matches nothing"
        for resource in targets:
            json6902(resource, operations)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry port is not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def containers_of(node: Any) -> Iterator[dict[str, Any]]:
    """Every container (and init container) anywhere in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                yield from value
            else:
                yield from containers_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers_of(item)


def set_images(resources: list[Resource], images: list[dict[str, str]]) -> None:
    for entry in images:
        assert set(entry) <= {"name", "newName", "newTag", "digest"}, entry
        for container in (c for r in resources for c in containers_of(r)):
            name, tag, digest = split_image(container["image"])
            if name != entry["name"]:
                continue
            name = entry.get("newName", name)
            tag = entry.get("newTag", tag)
            digest = entry.get("digest", digest)
            container["image"] = (
                name + (f":{tag}" if tag and not digest else "") + (f"@{digest}" if digest else "")
            )


def render(directory: Path) -> list[Resource]:
    """What ``kustomize build directory`` prints, for the kustomization fields deploy/k8s uses."""
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: {unknown} are not supported by the test renderer"
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources += render(path) if path.is_dir() else load_documents(path)
    apply_patches(directory, resources, kustomization.get("patches", []))
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED_KINDS:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    set_images(resources, kustomization.get("images", []))
    for entry in kustomization.get("replicas", []):
        scaled = [
            r
            for r in resources
            if r["kind"] in SCALABLE_KINDS and r["metadata"]["name"] == entry["name"]
        ]
        assert scaled, f"{directory}: replicas for {entry['name']}, which is not rendered"
        for resource in scaled:
            resource["spec"]["replicas"] = entry["count"]
    return resources


def identity(resource: Resource) -> tuple[str, str, str, str]:
    metadata = resource["metadata"]
    return (
        resource["apiVersion"],
        resource["kind"],
        metadata.get("namespace", ""),
        metadata["name"],
    )


def of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}
