"""Credential detectors for ML platforms: model hubs, LLM APIs, experiment trackers."""

from __future__ import annotations

from custodes.findings import Severity
from custodes.scan.secrets.rules import (
    ASSIGN,
    END,
    Rule,
    compile_pattern,
    random_enough,
)

__all__ = ["ML_RULES"]

CRIT, HIGH = Severity.CRITICAL, Severity.HIGH
_R = Rule
_ANY_KEY = random_enough(3.0, 2)
_HEXKEY = random_enough(3.0, 1)

ML_RULES: tuple[Rule, ...] = (
    # --- ML platforms ---------------------------------------------------------------
    _R(
        "SECRET-HUGGINGFACE-TOKEN",
        "Hugging Face access token",
        HIGH,
        ("hf_", "api_org_"),
        compile_pattern(r"(?<![A-Za-z0-9_])(?P<s>(?:hf|api_org)_[A-Za-z0-9]{34,40})" + END),
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-OPENAI-API-KEY",
        "OpenAI API key",
        HIGH,
        ("sk-",),
        compile_pattern(
            r"(?<![A-Za-z0-9_\-])(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}"
            r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48})" + END
        ),
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-ANTHROPIC-API-KEY",
        "Anthropic API key",
        HIGH,
        ("sk-ant-",),
        compile_pattern(r"(?P<s>sk-ant-[a-z]{3,6}\d\d-[A-Za-z0-9_\-]{80,120})" + END),
        priority=12,
        check=random_enough(3.5, 2),
    ),
    _R(
        "SECRET-DATABRICKS-TOKEN",
        "Databricks personal access token",
        HIGH,
        ("dapi",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>dapi[a-f0-9]{32}(?:-\d)?)" + END),
        check=_HEXKEY,
    ),
    _R(
        "SECRET-WANDB-API-KEY",
        "Weights & Biases API key",
        HIGH,
        (r"wandb_(?:api_)?key", r"wandb\.login", r"api\.wandb\.ai", r"wandb\s+login\s"),
        compile_pattern(
            r"(?i:wandb_(?:api_)?key)"
            + ASSIGN
            + r"(?P<s>[a-f0-9]{40})"
            + END
            + r"|wandb\.login\([^)]{0,120}?key\s*=\s*[\"'](?P<s2>[a-f0-9]{40})[\"']"
            + r"|api\.wandb\.ai\s+login\s+\S+\s+password\s+(?P<s3>[a-f0-9]{40})"
            + END
            + r"|wandb\s+login\s+(?:--relogin\s+)?(?P<s4>[a-f0-9]{40})"
            + END
        ),
        back=40,
        ahead=200,
        caseless=True,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-KAGGLE-KEY",
        "Kaggle API key",
        HIGH,
        (r'"key"\s*:\s*"[a-f0-9]{32}"', "kaggle_key", r"\bkey[\"']?\s*[:=]\s*[\"']?[a-f0-9]{32}"),
        compile_pattern(
            r'"username"\s*:\s*"[^"\n]{1,64}"\s*,\s*"key"\s*:\s*"(?P<s>[a-f0-9]{32})"'
            r"|(?i:kaggle_key)"
            + ASSIGN
            + r"(?P<s2>[a-f0-9]{32})"
            + END
            # {'username': 'x', 'key': '...'} and YAML "username: x" then "key: ..."
            + r"|(?i:username)[\"']?\s*[:=]\s*[\"']?[\w.\-]{1,64}[\"']?\s*(?:,|\\n\"?,?)?\s*"
            + r"[\"']?key[\"']?\s*[:=]\s*[\"']?(?P<s3>[a-f0-9]{32})"
            + END
        ),
        back=160,
        caseless=True,
        check=_HEXKEY,
    ),
    _R(
        "SECRET-COMET-API-KEY",
        "Comet ML API key",
        HIGH,
        ("comet_api_key", "comet_ml", r"Experiment\("),
        compile_pattern(
            r"(?i:comet_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{25,40})"
            + END
            + r"|(?:comet_ml\.[A-Za-z]+|Experiment|ExistingExperiment|OfflineExperiment)\("
            + r"[^)]{0,160}?api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{25,40})[\"']"
        ),
        back=40,
        ahead=260,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-NEPTUNE-API-TOKEN",
        "Neptune.ai API token",
        HIGH,
        ("eyJhcGlfYWRkcmVzcyI6", "neptune_api_token"),
        compile_pattern(r"(?P<s>eyJhcGlfYWRkcmVzcyI6[A-Za-z0-9+/=_\-]{40,400})" + END),
        ahead=420,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-REPLICATE-API-TOKEN",
        "Replicate API token",
        HIGH,
        ("r8_",),
        compile_pattern(r"(?<![A-Za-z0-9_])(?P<s>r8_[A-Za-z0-9]{37})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-COHERE-API-KEY",
        "Cohere API key",
        HIGH,
        ("co_api_key", "cohere_api_key", r"cohere\.(?:Async)?Client"),
        compile_pattern(
            r"(?i:co(?:here)?_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{40})"
            + END
            + r"|cohere\.(?:Async)?Client(?:V2)?\(\s*(?:api_key\s*=\s*)?[\"'](?P<s2>[A-Za-z0-9]{40})[\"']"
        ),
        back=40,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-GROQ-API-KEY",
        "Groq API key",
        HIGH,
        ("gsk_",),
        compile_pattern(r"(?<![A-Za-z0-9])(?P<s>gsk_[A-Za-z0-9]{52})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-MISTRAL-API-KEY",
        "Mistral AI API key",
        HIGH,
        ("mistral_api_key", r"Mistral(?:Client)?\("),
        compile_pattern(
            r"(?i:mistral_api_key)"
            + ASSIGN
            + r"(?P<s>[A-Za-z0-9]{32})"
            + END
            + r"|Mistral(?:Client)?\(\s*api_key\s*=\s*[\"'](?P<s2>[A-Za-z0-9]{32})[\"']"
        ),
        back=40,
        caseless=True,
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-PINECONE-API-KEY",
        "Pinecone API key",
        HIGH,
        ("pcsk_",),
        compile_pattern(r"(?P<s>pcsk_[A-Za-z0-9_]{50,90})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-LANGSMITH-API-KEY",
        "LangSmith API key",
        HIGH,
        ("lsv2_",),
        compile_pattern(r"(?P<s>lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})" + END),
        check=_HEXKEY,
    ),
    _R(
        "SECRET-XAI-API-KEY",
        "xAI API key",
        HIGH,
        ("xai-",),
        compile_pattern(r"(?<![A-Za-z0-9_\-])(?P<s>xai-[A-Za-z0-9]{80})" + END),
        check=_ANY_KEY,
    ),
    _R(
        "SECRET-PERPLEXITY-API-KEY",
        "Perplexity API key",
        HIGH,
        ("pplx-",),
        compile_pattern(r"(?P<s>pplx-[A-Za-z0-9]{48})" + END),
        check=_ANY_KEY,
    ),
)
