#!/usr/bin/env python3
"""Checks what cfn-lint cannot know about template.yaml: kb's own contract.

- the five functions exist, each built by cargo-lambda from its own binary;
- every SQS consumer reports partial batch failures;
- each queue redrives to its own dead-letter queue after KB_MAX_RECEIVES receives;
- each queue's VisibilityTimeout is at least 6x its consumer's Timeout plus the batching
  window (AWS guidance), and equals the consumer's KB_VISIBILITY_TIMEOUT_SECS;
- the model layer is attached (with KB_MODEL_DIR=/opt/model) where the model is used;
- finalize serves POST /api/v1/kb-drafts/{draft_id}/finalize and draft-api the rest.

Usage: check_template.py [template.yaml]; exit status 1 on any failure.
"""

from __future__ import annotations

import json

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"draft-api", "finalize", "crawl-page", "chunk", "embed-batch"}
CONSUMERS = {"crawl-page", "chunk", "embed-batch"}
NEED_MODEL = {"draft-api", "finalize", "chunk", "embed-batch"}
HTTP = {"draft-api", "finalize"}
FINALIZE = ("/api/v1/kb-drafts/{draft_id}/finalize", "POST")

errors: list[str] = []


def check(ok: bool, message: str) -> bool:
    if not ok:
        errors.append(message)
    return ok


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref X -> {"Ref": "X"}, !GetAtt A.B -> ...)."""


def _tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def ref_target(value: object) -> str | None:
    """The logical id behind !Ref X or !GetAtt X.Attr."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "template.yaml"
    tpl = yaml.load(path.read_text(), Loader=CfnLoader)
    resources: dict[str, dict] = tpl.get("Resources", {})
    glob = tpl.get("Globals", {}).get("Function", {})
    glob_env = glob.get("Environment", {}).get("Variables", {})

    max_receives = glob_env.get("KB_MAX_RECEIVES")
    check(max_receives is not None, "Globals do not set KB_MAX_RECEIVES")
    check(str(glob_env.get("KB_ALLOW_PRIVATE_NETWORKS")) == "false",
          "Globals must set KB_ALLOW_PRIVATE_NETWORKS to false")

    functions = {}
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        meta = res.get("Metadata", {})
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        check(meta.get("BuildMethod") == "rust-cargolambda", f"{lid}: BuildMethod is not rust-cargolambda")
        check(binary in FUNCTIONS, f"{lid}: BuildProperties.Binary {binary!r} is not one of {sorted(FUNCTIONS)}")
        functions[binary] = (lid, res.get("Properties", {}))
    check(set(functions) == FUNCTIONS, f"functions {sorted(functions)} != {sorted(FUNCTIONS)}")

    routes: dict[tuple[str, str], str] = {}
    for name, (lid, props) in functions.items():
        env = {**glob_env, **(props.get("Environment", {}).get("Variables", {}))}
        timeout = props.get("Timeout", glob.get("Timeout", 3))
        layers = props.get("Layers", [])
        if name in NEED_MODEL:
            check(any(resources.get(ref_target(l) or "", {}).get("Type") == "AWS::Serverless::LayerVersion"
                      for l in layers), f"{lid}: the model layer is not attached")
            check(env.get("KB_MODEL_DIR") == "/opt/model", f"{lid}: KB_MODEL_DIR is not /opt/model")
        if name in HTTP:
            check(str(env.get("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH")) == "true",
                  f"{lid}: AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH is not true")

        events = props.get("Events", {})
        sqs = [e.get("Properties", {}) for e in events.values() if e.get("Type") == "SQS"]
        for e in events.values():
            if e.get("Type") == "HttpApi":
                p = e.get("Properties", {})
                routes[(p.get("Path"), str(p.get("Method")).upper())] = name
        if name not in CONSUMERS:
            check(not sqs, f"{lid}: an HTTP function must not consume a queue")
            continue
        # One event on the stage's queue (it has a redrive policy), one on its dead-letter queue.
        main = [e for e in sqs if resources.get(ref_target(e.get("Queue")) or "", {}).get("Properties", {}).get("RedrivePolicy")]
        dead = [e for e in sqs if e not in main]
        if not check(len(main) == 1, f"{lid}: expected one SQS event on a queue with a redrive policy, found {len(main)}"):
            continue
        ev = main[0]
        main_dlq = ref_target(resources.get(ref_target(ev.get("Queue")) or "", {}).get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if check(len(dead) == 1 and ref_target(dead[0].get("Queue")) == main_dlq,
                 f"{lid}: expected one SQS event on its dead-letter queue {main_dlq}"):
            check(dead[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
                  f"{lid}: dead-letter SQS event must report batch item failures")
            qname = resources.get(main_dlq or "", {}).get("Properties", {}).get("QueueName")
            check("-dlq" in json.dumps(qname), f"{main_dlq}: QueueName must end in -dlq (how the consumer knows dead letters)")
        check(ev.get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
              f"{lid}: SQS event must report batch item failures")
        check(isinstance(ev.get("BatchSize"), int), f"{lid}: SQS event has no BatchSize")
        queue_id = ref_target(ev.get("Queue"))
        queue = resources.get(queue_id or "", {})
        if not check(queue.get("Type") == "AWS::SQS::Queue", f"{lid}: SQS event queue {queue_id!r} is not a queue"):
            continue
        qp = queue.get("Properties", {})
        vt = qp.get("VisibilityTimeout", 30)
        window = ev.get("MaximumBatchingWindowInSeconds", 0)
        check(vt >= 6 * timeout + window,
              f"{queue_id}: VisibilityTimeout {vt} < 6 x {lid} Timeout {timeout} + batching window {window}")
        check(str(env.get("KB_VISIBILITY_TIMEOUT_SECS")) == str(vt),
              f"{lid}: KB_VISIBILITY_TIMEOUT_SECS={env.get('KB_VISIBILITY_TIMEOUT_SECS')} but {queue_id} VisibilityTimeout is {vt}")
        redrive = qp.get("RedrivePolicy", {})
        check(str(redrive.get("maxReceiveCount")) == str(max_receives),
              f"{queue_id}: maxReceiveCount {redrive.get('maxReceiveCount')} != KB_MAX_RECEIVES {max_receives}")
        dlq = ref_target(redrive.get("deadLetterTargetArn"))
        check(resources.get(dlq or "", {}).get("Type") == "AWS::SQS::Queue",
              f"{queue_id}: no dead-letter queue")

    dlqs = [ref_target(r.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
            for r in resources.values() if r.get("Type") == "AWS::SQS::Queue"]
    dlqs = [d for d in dlqs if d]
    check(len(dlqs) == 3 and len(set(dlqs)) == 3, f"expected three queues with distinct dead-letter queues, found {dlqs}")

    check(routes.get(FINALIZE) == "finalize", f"finalize does not serve {FINALIZE[1]} {FINALIZE[0]}")
    check(routes.get(("/health", "GET")) == "draft-api", "draft-api does not serve GET /health")
    check(any(p.startswith("/api/v1/") and fn == "draft-api" for (p, _), fn in routes.items()),
          "draft-api serves no /api/v1/ route")

    outputs = tpl.get("Outputs", {})
    for out in ("ApiUrl", "BucketName", "CrawlQueueUrl", "ChunkQueueUrl", "EmbedQueueUrl"):
        check(out in outputs, f"output {out} is missing")

    if errors:
        for e in errors:
            print(f"{path.name}: {e}", file=sys.stderr)
        return 1
    print(f"{path.name}: ok (5 functions, 3 queues with dead-letter queues, maxReceiveCount {max_receives})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
