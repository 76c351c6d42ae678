"""Rules about where training data comes from: the data-as-attack-vector rules."""

from __future__ import annotations

from collections.abc import Iterator

from custodes.system.schema import FeedbackLoop, Source, Store
from custodes.threatmodel.rules.base import (
    Context,
    Hit,
    describe_sensitivity,
    likelihood,
    rule,
)

DS = ("data-scientist", "developer", "leadership")


@rule("TM-POISON-USER", "User-generated data reaches training")
def poison_user(ctx: Context) -> Iterator[Hit]:
    """Anyone who can write a record a model trains on can steer that model.

    A user-generated source whose data reaches a training or fine-tuning step hands the
    model's behaviour to every user of the platform; only validation of every batch
    against a baseline, and testing of the model it produces, stand in the way.
    """
    for node in ctx.graph.of_kind("source"):
        src = node.element
        assert isinstance(src, Source)
        if src.tier != "user_generated":
            continue
        steps = ctx.training_reached_by(src.id)
        if not steps:
            continue
        validated = ctx.validated_on_path(src.id)
        value, reasons = likelihood(
            5,
            "users write data the model trains on",
            (bool(validated), -1, f"automated validation in {', '.join(validated)}"),
        )
        facts = [
            f"source {src.id!r} has tier user_generated",
            f"its data reaches training step(s) {', '.join(n.id for n in steps)}",
        ]
        if src.records:
            facts.append(f"it holds {src.records:,} records")
        if not validated:
            facts.append("no process on its path runs automated validation")
        yield Hit(
            threat="DATAPOISON",
            element=src.id,
            facts=tuple(facts),
            controls=("DATAQUALITYCONTROL", "CONTINUOUSVALIDATION"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="validate every batch from this source against a baseline "
            "(DATAQUALITYCONTROL) and test each trained model (CONTINUOUSVALIDATION)",
            audiences=DS,
        )


@rule("TM-POISON-BROKER", "Broker data reaches training")
def poison_broker(ctx: Context) -> Iterator[Hit]:
    """Data bought from a broker was in someone else's custody before it reached us.

    Without chain-of-custody documentation nobody can say who could have altered it, so
    the likelihood rises; either way the data needs independent quality checks.
    """
    for node in ctx.graph.of_kind("source"):
        src = node.element
        assert isinstance(src, Source)
        if src.tier != "broker":
            continue
        steps = ctx.training_reached_by(src.id)
        if not steps:
            continue
        undocumented = not src.chain_of_custody
        value, reasons = likelihood(
            3,
            "a third party had custody of the data",
            (undocumented, 1, "no chain-of-custody documentation"),
        )
        facts = [
            f"source {src.id!r} has tier broker (custodian: {src.custodian or 'not stated'})",
            f"its data reaches training step(s) {', '.join(n.id for n in steps)}",
            "chain of custody: "
            + (src.chain_of_custody if src.chain_of_custody else "not documented"),
        ]
        yield Hit(
            threat="DATAPOISON",
            element=src.id,
            facts=tuple(facts),
            controls=("SUPPLYCHAINMANAGE", "DATAQUALITYCONTROL"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="obtain and record the broker's chain of custody (SUPPLYCHAINMANAGE) and "
            "validate its deliveries independently (DATAQUALITYCONTROL)",
            audiences=DS,
        )


@rule("TM-POISON-FEEDBACK", "Outputs come back as training or retrieval data")
def poison_feedback(ctx: Context) -> Iterator[Hit]:
    """A feedback loop turns use into training: poisoning through use.

    Whoever can shape the outputs that flow back (by querying, rating or correcting) can
    shape the next model, or, when the loop feeds retrieval, what the model reads.
    """
    for node in ctx.graph.of_kind("feedback_loop"):
        loop = node.element
        assert isinstance(loop, FeedbackLoop)
        facts = (
            f"feedback loop {loop.id!r} carries {loop.from_!r} back into {loop.into!r}",
            f"used for {loop.used_for.replace('_', '-')}",
            "entries are validated before use" if loop.validated else "entries are not validated",
        )
        value, reasons = likelihood(
            4,
            "outputs that users influence return as inputs",
            (loop.validated, -1, "entries are validated"),
        )
        if loop.used_for in ("training", "fine_tuning", "evaluation"):
            yield Hit(
                threat="DATAPOISON",
                element=loop.id,
                facts=facts,
                controls=("DATAQUALITYCONTROL", "CONTINUOUSVALIDATION"),
                likelihood=value,
                likelihood_reasons=reasons,
                clears="validate loop entries before they join training data "
                "(DATAQUALITYCONTROL) and test each retrained model (CONTINUOUSVALIDATION)",
                audiences=DS,
            )
        else:
            yield Hit(
                threat="AUGMENTATIONDATAMANIPULATION",
                element=loop.id,
                facts=facts,
                controls=("AUGMENTATIONDATAINTEGRITY",),
                likelihood=value,
                likelihood_reasons=reasons,
                clears="only let reviewed, integrity-protected entries into the retrieval "
                "corpus (AUGMENTATIONDATAINTEGRITY)",
                audiences=DS,
            )


@rule("TM-SENSITIVE-STORE", "Sensitive training data at rest")
def sensitive_store(ctx: Context) -> Iterator[Hit]:
    """Where personal, health or biometric data rests, its theft is the breach.

    Training data is copied into lakes, buckets and notebooks; each copy that is not
    segregated and access-controlled is a way to lose the whole population's records.
    """
    for node in ctx.graph.of_kind("store"):
        store = node.element
        assert isinstance(store, Store)
        flags = ctx.sensitivity(store.id)
        if not flags:
            continue
        value, reasons = likelihood(
            2,
            f"a store of {describe_sensitivity(flags)} data",
            (store.public, 3, "publicly reachable"),
            (store.access_control is not True, 1, "access control not declared"),
            (store.encrypted is not True, 1, "encryption at rest not declared"),
        )
        facts = [f"store {store.id!r} ({store.kind}) holds {describe_sensitivity(flags)} data"]
        if store.public:
            facts.append("it is publicly reachable")
        if store.access_control is not True:
            facts.append("access control is not declared")
        if store.encrypted is not True:
            facts.append("encryption at rest is not declared")
        readers = ctx.graph.actors_with_access(store.id)
        if readers:
            facts.append(f"reachable by {', '.join(n.id for n in readers)}")
        yield Hit(
            threat="DEVDATALEAK",
            element=store.id,
            facts=tuple(facts),
            controls=("SEGREGATEDATA", "DEVSECURITY"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="keep the data in a segregated, access-controlled, encrypted store "
            "(SEGREGATEDATA) inside a secured engineering environment (DEVSECURITY)",
            impact="confidentiality",
            sensitivity=flags,
            audiences=("developer", "leadership"),
        )
