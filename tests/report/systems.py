"""System models the report tests render, written as a user would write custodes.yaml.

The health model mirrors the showcase: 7.5 million patient records, 90% accuracy, a
user-data source that reaches training, a broker, a feedback loop and a notebook with
production access. Ids use dots, dashes and a Mermaid keyword (``end``) on purpose.
"""

from __future__ import annotations

from datetime import date

from custodes.system import parse_system
from custodes.threatmodel import ThreatModel, analyze

TODAY = date(2026, 11, 26)

HEALTH_YAML = """\
version: 1
system:
  name: Patient outcome model
  owner: clinical-ml-lead
  purpose: predicts 30-day readmission risk for discharge planning
  consequence: critical
  scale: {records: 7500000, people_affected: 7500000, accuracy: 0.9, decisions_per_day: 20000}
  review: {last_reviewed: 2026-09-01, interval_days: 90}
actors:
  - {id: data-science, name: Data science team, kind: team, access: [nb.explore, lake]}
  - {id: clinicians, name: Clinicians, kind: human}
trust_boundaries:
  - {id: hospital, name: Hospital network, contains: [ehr, clinicians]}
  - id: ml-platform
    name: ML platform account
    contains: [ingest, lake, train, outcome.model, api, portal, nb.explore]
  - {id: internet, name: Public internet, contains: [patient-app]}
sources:
  - {id: patient-app, name: Patient app uploads, tier: user_generated, health_data: true,
     records: 1200000}
  - {id: broker, name: Claims broker feed, tier: broker}
  - {id: ehr, name: Electronic health records, tier: first_party, health_data: true,
     personal_data: true}
processes:
  - {id: ingest, name: Nightly ingestion, kind: ingestion}
  - {id: train, name: Training job, kind: training}
stores:
  - {id: lake, name: Clinical data lake, kind: data_lake, encrypted: true, health_data: true}
models:
  - {id: outcome.model, name: Readmission model, format: joblib, trained: 2026-03-01,
     retrain_interval_days: 180}
notebooks:
  - {id: nb.explore, name: Exploration notebook, production_data_access: true,
     credentials: hard_coded, users: [data-science]}
endpoints:
  - {id: api, name: Scoring API, callers: authenticated_users, authentication: true,
     returns: [label, confidence], serves: [outcome.model]}
outputs:
  - {id: portal, name: Discharge planning portal, kind: ui}
  - {id: end, name: Weekly report, kind: report}
feedback_loops:
  - {id: readmit-feedback, name: Readmission outcomes, from: portal, into: lake}
flows:
  - {from: patient-app, to: ingest, data: symptom diaries, classification: restricted}
  - {from: broker, to: ingest, data: claims, classification: confidential}
  - {from: ehr, to: ingest, data: patient records, classification: restricted, encrypted: true}
  - {from: ingest, to: lake}
  - {from: lake, to: train}
  - {from: train, to: outcome.model}
  - {from: api, to: portal, data: risk scores, classification: confidential}
  - {from: portal, to: end, classification: internal}
controls:
  - id: DATAQUALITYCONTROL
    applies_to: [patient-app]
    status: implemented
    owner: data-eng
    evidence: ci/validate.yml
    response:
      procedure: quarantine the batch and retrain from the last good snapshot
      escalation: on-call data engineer
  - {id: RATELIMIT, status: risk_accepted, owner: platform, approver: ciso, expires: 2026-06-30}
"""

HOSTILE_NAME = "<img src=x onerror=alert(1)>"

HOSTILE_YAML = f"""\
version: 1
system:
  name: "{HOSTILE_NAME}"
  owner: "<script>alert('owner')</script>"
trust_boundaries:
  - {{id: zone, name: "</svg><script>alert(2)</script>", contains: [src]}}
sources:
  - {{id: src, name: "Evil \\\\\\" & <b>bold</b>", tier: user_generated}}
processes:
  - {{id: train, kind: training}}
flows:
  - {{from: src, to: train, data: "<iframe src=https://evil.example>"}}
"""


def health() -> ThreatModel:
    """The showcase threat model, analysed on a fixed day."""
    return analyze(parse_system(HEALTH_YAML), today=TODAY)


def hostile() -> ThreatModel:
    """A model whose every name tries to inject markup."""
    return analyze(parse_system(HOSTILE_YAML), today=TODAY)
