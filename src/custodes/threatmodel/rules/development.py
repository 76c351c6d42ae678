"""Rules about the engineering environment and the supply chain of models and data."""

from __future__ import annotations

from collections.abc import Iterator

from custodes.system.schema import Dependency, ModelArtifact, Notebook
from custodes.threatmodel.rules.base import Context, Hit, describe_sensitivity, likelihood, rule

#: Formats whose loading runs code stored in the file (pickle and its relatives).
CODE_ON_LOAD = frozenset({"pickle", "joblib", "pytorch", "keras"})


@rule("TM-DEV-NOTEBOOK", "Notebook reaches production data")
def dev_notebook(ctx: Context) -> Iterator[Hit]:
    """Notebooks hold the feature logic and reach the data: steal or alter them there.

    A notebook environment with production data access is where training data leaks and
    where a model can be altered before anyone reviews it; hard-coded credentials turn
    any copy of the notebook into a copy of the keys.
    """
    for node in ctx.graph.of_kind("notebook"):
        nb = node.element
        assert isinstance(nb, Notebook)
        if not nb.production_data_access:
            continue
        flags = ctx.sensitivity(nb.id)
        for actor in ctx.graph.actors_with_access(nb.id):
            flags |= ctx.sensitivity(actor.id)
        hard_coded = nb.credentials == "hard_coded"
        value, reasons = likelihood(
            3,
            "production data reachable from a development environment",
            (hard_coded, 2, "credentials hard-coded in the notebook"),
            (nb.version_controlled is False, 1, "not under version control"),
            (len(nb.users) >= 5, 1, f"{len(nb.users)} user groups"),
        )
        facts = [f"notebook {nb.id!r} has production data access"]
        if nb.users:
            facts.append(f"used by {', '.join(nb.users)}")
        facts.append(f"credentials: {nb.credentials.replace('_', '-')}")
        if nb.version_controlled is False:
            facts.append("it is not under version control")
        yield Hit(
            threat="DEVDATALEAK",
            element=nb.id,
            facts=tuple(facts),
            controls=("DEVSECURITY", "SEGREGATEDATA"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="secure the notebook environment and move credentials to a secret manager "
            "(DEVSECURITY); give notebooks a segregated, minimised copy of the data "
            "(SEGREGATEDATA)",
            impact="confidentiality",
            sensitivity=flags,
            audiences=("data-scientist", "developer"),
        )
        yield Hit(
            threat="DEVMODELPOISON",
            element=nb.id,
            facts=tuple(facts),
            controls=("DEVSECURITY", "SUPPLYCHAINMANAGE"),
            likelihood=max(1, value - 1),
            likelihood_reasons=(*reasons, "altering a model is harder than copying data: -1"),
            clears="review notebook changes before their outputs train a model (DEVSECURITY) "
            "and record what went into each model (SUPPLYCHAINMANAGE)",
            audiences=("data-scientist", "developer"),
        )


@rule("TM-DEV-IP", "Model IP lives in an ungoverned notebook")
def dev_ip(ctx: Context) -> Iterator[Hit]:
    """Feature engineering and model code in notebooks is the company's model IP.

    Outside version control it is neither reviewed nor recoverable, and any copy leaks it.
    """
    for node in ctx.graph.of_kind("notebook"):
        nb = node.element
        assert isinstance(nb, Notebook)
        if nb.version_controlled is True:
            continue
        value, reasons = likelihood(
            2,
            "notebooks are copied and shared freely",
            (nb.version_controlled is False, 1, "not under version control"),
        )
        yield Hit(
            threat="DEVCODELEAK",
            element=nb.id,
            facts=(
                f"notebook {nb.id!r} is "
                + (
                    "not under version control"
                    if nb.version_controlled is False
                    else "not declared as version-controlled"
                ),
            ),
            controls=("DEVSECURITY",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="keep notebooks in a reviewed repository with access tracking (DEVSECURITY)",
            impact="confidentiality",
            audiences=("data-scientist",),
        )


@rule("TM-SUPPLY-MODEL", "Model obtained from a third party")
def supply_model(ctx: Context) -> Iterator[Hit]:
    """A third-party or foundation model brings its makers' data and custody with it.

    Its training data, fine-tuning and file are outside our review; a poisoned or
    backdoored model looks like any other until its trigger arrives.
    """
    for node in ctx.graph.of_kind("model"):
        m = node.element
        assert isinstance(m, ModelArtifact)
        if m.origin == "in_house":
            continue
        runs_code = m.format in CODE_ON_LOAD and not m.signed
        value, reasons = likelihood(
            3,
            f"{m.origin.replace('_', '-')} model",
            (runs_code, 1, f"{m.format} file runs code on load and is unsigned"),
            (m.signed, -1, "signature verified"),
        )
        facts = [f"model {m.id!r} has origin {m.origin.replace('_', '-')}"]
        if m.provider:
            facts.append(f"provided by {m.provider}")
        facts.append(f"format {m.format}" + (", which runs code when loaded" if runs_code else ""))
        yield Hit(
            threat="SUPPLYMODELPOISON",
            element=m.id,
            facts=tuple(facts),
            controls=("SUPPLYCHAINMANAGE", "CONTINUOUSVALIDATION"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="verify the model's origin and signature before use (SUPPLYCHAINMANAGE) and "
            "test its behaviour on your own data (CONTINUOUSVALIDATION)",
            audiences=("developer", "data-scientist", "leadership"),
        )


@rule("TM-MODEL-FILE", "Model file can be swapped for one that runs code")
def model_file(ctx: Context) -> Iterator[Hit]:
    """Pickle-family model files execute code when loaded.

    Whoever can replace the file in storage or in the deployment owns the serving host;
    unsigned files give no way to notice the swap.
    """
    for node in ctx.graph.of_kind("model"):
        m = node.element
        assert isinstance(m, ModelArtifact)
        if m.format not in CODE_ON_LOAD:
            continue
        value, reasons = likelihood(
            2,
            "an attacker needs write access to the model file",
            (not m.signed, 1, "file is not signed"),
        )
        yield Hit(
            threat="RUNTIMEMODELPOISON",
            element=m.id,
            facts=(
                f"model {m.id!r} is stored as {m.format}, which runs code when loaded",
                "it is signed" if m.signed else "it is not signed",
            ),
            controls=("RUNTIMEMODELINTEGRITY",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="sign the model and verify the signature before loading, or move to a "
            "format that cannot run code such as safetensors or ONNX (RUNTIMEMODELINTEGRITY)",
        )


@rule("TM-MODEL-THEFT", "Deployed model parameters can be stolen")
def model_theft(ctx: Context) -> Iterator[Hit]:
    """An in-house model in production is IP, and on personal data a privacy risk too."""
    served = {m for ep in ctx.model.endpoints for m in ep.serves}
    for node in ctx.graph.of_kind("model"):
        m = node.element
        assert isinstance(m, ModelArtifact)
        if m.origin != "in_house" or m.id not in served:
            continue
        flags = ctx.sensitivity(m.id)
        value, reasons = likelihood(2, "needs access to the serving infrastructure")
        facts = [f"model {m.id!r} is built in-house and served in production"]
        if flags:
            facts.append(f"it learnt from {describe_sensitivity(flags)} data")
        yield Hit(
            threat="RUNTIMEMODELLEAK",
            element=m.id,
            facts=tuple(facts),
            controls=("RUNTIMEMODELCONFIDENTIALITY",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="restrict and audit access to model files in production "
            "(RUNTIMEMODELCONFIDENTIALITY)",
            impact="confidentiality",
            sensitivity=flags,
        )


@rule("TM-SUPPLY-DEPENDENCY", "Unpinned external dependency")
def supply_dependency(ctx: Context) -> Iterator[Hit]:
    """What is not pinned can change under you: a new upload is a new supply chain."""
    for node in ctx.graph.of_kind("dependency"):
        dep = node.element
        assert isinstance(dep, Dependency)
        if dep.pinned is True or dep.kind in ("service", "platform"):
            continue
        threat = {"dataset": "DATAPOISON", "model_hub": "SUPPLYMODELPOISON"}.get(
            dep.kind, "GENERICSECTHREATS"
        )
        value, reasons = likelihood(
            3, f"external {dep.kind.replace('_', ' ')} not pinned to a version or digest"
        )
        yield Hit(
            threat=threat,
            element=dep.id,
            facts=(
                f"dependency {dep.id!r} ({dep.kind.replace('_', ' ')}"
                + (f" from {dep.provider}" if dep.provider else "")
                + ") is not pinned",
            ),
            controls=("SUPPLYCHAINMANAGE",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="pin it to a version and digest and record it in the AI bill of materials "
            "(SUPPLYCHAINMANAGE)",
        )
