#!/usr/bin/env python3
"""Checks that template.yaml matches the code it deploys.

Run with the .venv's Python (scripts/setup-tools installs cfn-lint there; its YAML loader
understands !Ref, !Sub and !GetAtt):

    .venv/bin/python scripts/check-template.py [template.yaml]

Asserts:
- every action of shared/core/src/protocol/mod.rs (`Action::name`) has a WebSocket route with a route
  response, and every route key is an action or $connect / $disconnect / $default;
- every route (and the authorizer) reaches, through its integration, a function whose CodeUri is
  `functions/<name>`, a member of the Cargo workspace with exactly one binary target (or the one
  `Metadata.BuildProperties.Binary` names), built with rust-cargolambda: what `sam build` compiles
  into that function's `bootstrap`;
- every table name shared/aws/src/config.rs requires is in the functions' environment and names a
  declared DynamoDB table, every declared table is named so (the store knows it) and is in some
  function's IAM statements, and every function allowed to push has CIRRUS_CONNECTIONS_ENDPOINT;
- no IAM statement allows `Resource: "*"` or a wildcard action, and functions use explicit
  statements rather than SAM policy templates (which hide wildcard statements);
- every DynamoDB table is on-demand, with point-in-time recovery and server-side encryption;
- every SQS queue is encrypted (SSE-SQS or KMS), and every queue no other queue dead-letters into has
  a RedrivePolicy to a declared queue; every S3 bucket blocks all public access and is encrypted;
- queues are consumed through explicit AWS::Lambda::EventSourceMapping resources, never a SAM `SQS`
  event (which attaches the managed AWSLambdaSQSQueueExecutionRole, Resource "*"); each mapping from
  a queue of this template invokes a function of it, reports partial batch failures
  (ReportBatchItemFailures), and that function's own statements allow receiving, deleting and reading
  the attributes of exactly that queue, whose visibility timeout is at least 6x the function's timeout;
- every S3 event of a function names a bucket of this template, filters keys by prefix and suffix
  (a function writing into the bucket that triggers it must not see its own writes), and the
  function does not refer to that bucket itself (SAM's notification makes the bucket depend on the
  function: a reference back is a circular dependency; see MediaFunctionObjects);
- every !Ref, !GetAtt and ${...} names a parameter, resource or pseudo parameter (SAM's implicit
  `<Function>Role` included).

Exits 1 with one line per violation; otherwise prints a one-line summary.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "shared/core/src/protocol/mod.rs"
CONFIG = ROOT / "shared/aws/src/config.rs"
SPECIAL_ROUTES = {"$connect", "$disconnect", "$default"}
PSEUDO = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
    "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

errors: list[str] = []


def workspace_binaries() -> dict[str, list[str]]:
    """Binary target names of every workspace member, by member directory (e.g. functions/message)."""
    members = tomllib.loads((ROOT / "Cargo.toml").read_text()).get("workspace", {}).get("members", [])
    binaries = {}
    for member in members:
        manifest = ROOT / member / "Cargo.toml"
        if not manifest.is_file():
            continue
        package = tomllib.loads(manifest.read_text())
        names = [b.get("name") for b in package.get("bin", []) if b.get("name")]
        if not names and (ROOT / member / "src/main.rs").is_file():
            names = [package.get("package", {}).get("name")]  # the implicit binary target
        binaries[member] = names
    return binaries


def fail(message: str) -> None:
    errors.append(message)


def protocol_actions() -> list[str]:
    """Wire names from the `Self::X => "name"` arms of `fn name`, checked against `Action::ALL`."""
    source = PROTOCOL.read_text()
    body = re.search(r"fn name\(self\)[^{]*\{(.*?)\n    \}", source, re.S)
    if not body:
        sys.exit(f"check-template: cannot find `fn name` in {PROTOCOL.relative_to(ROOT)}")
    names = re.findall(r'Self::\w+\s*=>\s*"([^"]+)"', body.group(1))
    declared = re.search(r"const ALL: \[Action; (\d+)\]", source)
    if not names or (declared and int(declared.group(1)) != len(names)):
        sys.exit(f"check-template: parsed {len(names)} action names from {PROTOCOL.relative_to(ROOT)}, "
                 f"but Action::ALL declares {declared.group(1) if declared else '?'}")
    return names


def required_table_vars() -> list[str]:
    return re.findall(r'var\("(CIRRUS_\w+_TABLE)"\)', CONFIG.read_text())


def sub_names(value) -> list[str]:
    """Names a Fn::Sub string refers to (`${Name}` or `${Name.Attr}`; `${!literal}` skipped)."""
    text = value[0] if isinstance(value, list) else value
    if not isinstance(text, str):
        return []
    return [name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)]


def sub_locals(value) -> set[str]:
    if isinstance(value, list) and len(value) > 1 and isinstance(value[1], dict):
        return set(value[1])
    return set()


def walk(node, visit, path=()):
    visit(node, path)
    if isinstance(node, dict):
        for key, child in node.items():
            walk(child, visit, path + (str(key),))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            walk(child, visit, path + (str(index),))


def referenced_resource(value) -> str | None:
    """The resource a route target / integration URI names through ${...}."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        names = [n for n in sub_names(value["Fn::Sub"]) if n not in PSEUDO]
        return names[0] if len(names) == 1 else None
    return None


def implicit_roles(template) -> set[str]:
    """The roles SAM generates, `<Function>Role`, for functions that name no `Role`."""
    return {f"{name}Role" for name, resource in template.get("Resources", {}).items()
            if resource.get("Type") == "AWS::Serverless::Function"
            and "Role" not in (resource.get("Properties") or {})}


def references(node) -> set[str]:
    """Every parameter or resource name that `node` refers to through !Ref, !GetAtt or ${...}."""
    found: set[str] = set()

    def visit(item, _path):
        if not isinstance(item, dict) or len(item) != 1:
            return
        (key, value), = item.items()
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
        elif key == "Fn::Sub":
            found.update(sub_names(value))

    walk(node, visit)
    return found


def check_s3_events(functions, buckets, props) -> None:
    for name, function in functions.items():
        events = props(function).get("Events") or {}
        for event_name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "S3":
                continue
            where = f"{name}.Events.{event_name}"
            p = event.get("Properties") or {}
            bucket = p.get("Bucket", {}).get("Ref") if isinstance(p.get("Bucket"), dict) else None
            if bucket not in buckets:
                fail(f"{where}: Bucket must be !Ref <an AWS::S3::Bucket of this template>")
            rules = ((p.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
            names = {r.get("Name", "").lower() for r in rules if isinstance(r, dict) and r.get("Value")}
            if not {"prefix", "suffix"} <= names:
                fail(f"{where}: Filter.S3Key.Rules must give a prefix and a suffix "
                     "(or the function's own writes to the bucket trigger it again)")
            own = {key: value for key, value in props(function).items() if key != "Events"}
            if bucket and bucket in references(own):
                fail(f"{name}: refers to {bucket}, which its S3 event makes depend on it (circular "
                     "dependency): take the bucket from the event record, and grant access in a "
                     "separate AWS::IAM::Policy")


def check_references(template) -> None:
    known = (set(template.get("Parameters", {})) | set(template.get("Resources", {})) | PSEUDO
             | implicit_roles(template))

    def visit(node, path):
        if not isinstance(node, dict) or len(node) != 1:
            return
        (key, value), = node.items()
        where = "/".join(path)
        if key == "Ref" and isinstance(value, str) and value not in known:
            fail(f"{where}: !Ref {value} names nothing declared")
        elif key == "Fn::GetAtt":
            target = value[0] if isinstance(value, list) else str(value).split(".")[0]
            if target not in known:
                fail(f"{where}: !GetAtt {target} names nothing declared")
        elif key == "Fn::Sub":
            for name in sub_names(value):
                if name not in known and name not in sub_locals(value):
                    fail(f"{where}: ${{{name}}} names nothing declared")

    walk(template.get("Resources", {}), visit, ("Resources",))
    walk(template.get("Outputs", {}), visit, ("Outputs",))
    walk(template.get("Globals", {}), visit, ("Globals",))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "template.yaml"
    template, matches = decode(str(path))
    if matches or not isinstance(template, dict):
        sys.exit(f"check-template: cannot parse {path}: " + "; ".join(str(m) for m in matches))
    resources = template.get("Resources", {})
    of_type = lambda kind: {name: r for name, r in resources.items() if r.get("Type") == kind}  # noqa: E731
    props = lambda resource: resource.get("Properties", {}) or {}  # noqa: E731

    functions = of_type("AWS::Serverless::Function")
    integrations = of_type("AWS::ApiGatewayV2::Integration")
    routes = of_type("AWS::ApiGatewayV2::Route")
    route_responses = of_type("AWS::ApiGatewayV2::RouteResponse")
    tables = of_type("AWS::DynamoDB::Table")

    # Functions: one binary crate each under functions/<name>, a workspace member; sam build runs
    # `cargo lambda build` in that directory (into the workspace's shared target directory) and takes
    # its binary, or the one BuildProperties.Binary names, as the bootstrap.
    binaries = workspace_binaries()
    for name, function in functions.items():
        code_uri = props(function).get("CodeUri")
        metadata = function.get("Metadata") or {}
        if not (isinstance(code_uri, str) and re.fullmatch(r"functions/[a-z0-9-]+", code_uri)):
            fail(f"{name}: CodeUri must be functions/<name>, found {code_uri!r}")
        elif code_uri not in binaries:
            fail(f"{name}: CodeUri {code_uri} is not a member of the Cargo workspace")
        else:
            wanted = (metadata.get("BuildProperties") or {}).get("Binary")
            found = binaries[code_uri]
            if wanted is not None and wanted not in found:
                fail(f"{name}: BuildProperties.Binary {wanted!r} is not a binary of {code_uri} ({found})")
            elif wanted is None and len(found) != 1:
                fail(f"{name}: {code_uri} must have exactly one binary target (has {found}), "
                     "or name one in Metadata.BuildProperties.Binary")
        if metadata.get("BuildMethod") != "rust-cargolambda":
            fail(f"{name}: Metadata.BuildMethod must be rust-cargolambda")

    def function_behind(uri, owner: str) -> None:
        target = referenced_resource(uri)
        if target not in functions:
            fail(f"{owner}: does not invoke a function of this template (found {target!r})")

    # HTTP API routes (`METHOD /path`): each reaches a function; no route responses there.
    def api_of(route) -> str | None:
        api = props(route).get("ApiId")
        return api.get("Ref") if isinstance(api, dict) else None

    http_apis = {name for name, api in of_type("AWS::ApiGatewayV2::Api").items()
                 if props(api).get("ProtocolType") == "HTTP"}
    http_routes = {name: route for name, route in routes.items() if api_of(route) in http_apis}
    routes = {name: route for name, route in routes.items() if name not in http_routes}
    for name, route in http_routes.items():
        key = props(route).get("RouteKey")
        if not (isinstance(key, str) and re.fullmatch(r"(GET|POST|PUT|PATCH|DELETE|ANY) /\S*", key)):
            fail(f"HTTP route {name}: RouteKey {key!r} is not 'METHOD /path'")
        integration = referenced_resource(props(route).get("Target"))
        if integration not in integrations:
            fail(f"HTTP route {name}: Target is not integrations/${{<Integration>}} of this template")
        else:
            function_behind(props(integrations[integration]).get("IntegrationUri"), f"integration {integration}")

    # WebSocket routes: one per action, each with a route response, each reaching a function.
    actions = protocol_actions()
    keys = {props(route).get("RouteKey"): name for name, route in routes.items()}
    answered = {props(rr).get("RouteId", {}).get("Ref") for rr in route_responses.values()
                if isinstance(props(rr).get("RouteId"), dict)}
    for action in actions:
        route = keys.get(action)
        if route is None:
            fail(f"action {action}: no AWS::ApiGatewayV2::Route with RouteKey {action}")
        elif route not in answered:
            fail(f"action {action}: route {route} has no AWS::ApiGatewayV2::RouteResponse")
    for special in sorted(SPECIAL_ROUTES):
        if special not in keys:
            fail(f"no {special} route")
    targeted = set()
    for key, route in keys.items():
        if key not in actions and key not in SPECIAL_ROUTES:
            fail(f"route {route}: RouteKey {key!r} is no action of protocol/mod.rs")
        integration = referenced_resource(props(routes[route]).get("Target"))
        if integration not in integrations:
            fail(f"route {route} ({key}): Target is not integrations/${{<Integration>}} of this template")
        targeted.add(integration)
    for integration in sorted(targeted & set(integrations)):
        function_behind(props(integrations[integration]).get("IntegrationUri"), f"integration {integration}")
    for name, authorizer in of_type("AWS::ApiGatewayV2::Authorizer").items():
        function_behind(props(authorizer).get("AuthorizerUri"), f"authorizer {name}")

    # Table names: what Config::from_env requires, pointing at declared tables.
    variables = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    named = set()
    for variable in required_table_vars():
        value = variables.get(variable)
        if not (isinstance(value, dict) and value.get("Ref") in tables):
            fail(f"Globals.Function.Environment: {variable} must be !Ref <an AWS::DynamoDB::Table>")
        else:
            named.add(value["Ref"])
    for name in sorted(set(tables) - named):
        fail(f"{name}: no CIRRUS_*_TABLE variable of shared/aws/src/config.rs names it")
    for name in sorted(tables):
        usable = any(name in references(statement.get("Resource"))
                     for function in functions.values()
                     for policy in (props(function).get("Policies") or [])
                     if isinstance(policy, dict)
                     for statement in policy.get("Statement", []) if isinstance(statement, dict))
        if not usable:
            fail(f"{name}: no function's IAM statement names it")

    # IAM: explicit statements, no wildcard resource or action.
    statements = []
    for name, function in functions.items():
        policies = props(function).get("Policies", [])
        for index, policy in enumerate(policies if isinstance(policies, list) else [policies]):
            if isinstance(policy, dict) and "Statement" in policy:
                statements += [(f"{name}.Policies[{index}]", s) for s in policy["Statement"]]
            else:
                label = next(iter(policy)) if isinstance(policy, dict) else policy
                fail(f"{name}.Policies[{index}]: {label!r} is not an explicit Statement list")

    def collect(node, path):
        if isinstance(node, dict) and isinstance(node.get("Statement"), list) and path[-1:] != ("Policies",):
            statements.extend(("/".join(path), s) for s in node["Statement"])

    for name, resource in resources.items():
        if resource.get("Type", "").startswith("AWS::IAM::"):
            walk(props(resource), collect, (name,))
    for where, statement in statements:
        as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
        if "*" in as_list(statement.get("Resource")) or "NotResource" in statement:
            fail(f"{where}: statement {statement.get('Sid', '')!r} allows Resource \"*\" (or uses NotResource)")
        for action in as_list(statement.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                fail(f"{where}: statement {statement.get('Sid', '')!r} allows the wildcard action {action}")

    # Functions allowed to push through @connections know where it is.
    for name, function in functions.items():
        pushes = any(isinstance(s, dict) and "execute-api:ManageConnections" in str(s.get("Action"))
                     for policy in props(function).get("Policies", []) if isinstance(policy, dict)
                     for s in policy.get("Statement", []))
        env = ((props(function).get("Environment") or {}).get("Variables") or {})
        if pushes and "CIRRUS_CONNECTIONS_ENDPOINT" not in env and "CIRRUS_CONNECTIONS_ENDPOINT" not in variables:
            fail(f"{name}: may ManageConnections but has no CIRRUS_CONNECTIONS_ENDPOINT")

    # Tables: on-demand, point-in-time recovery, encryption at rest.
    for name, table in tables.items():
        p = props(table)
        if p.get("BillingMode") != "PAY_PER_REQUEST":
            fail(f"{name}: BillingMode must be PAY_PER_REQUEST")
        if (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
            fail(f"{name}: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled must be true")
        if (p.get("SSESpecification") or {}).get("SSEEnabled") is not True:
            fail(f"{name}: SSESpecification.SSEEnabled must be true")

    # Queues: encrypted; work queues redrive to a dead-letter queue of this template.
    queues = of_type("AWS::SQS::Queue")

    def redrive_target(queue) -> str | None:
        arn = (props(queue).get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        return arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None

    dead_letter = {redrive_target(q) for q in queues.values()} - {None}
    for name, queue in queues.items():
        p = props(queue)
        if p.get("SqsManagedSseEnabled") is not True and not p.get("KmsMasterKeyId"):
            fail(f"{name}: SqsManagedSseEnabled must be true (or KmsMasterKeyId set)")
        if name not in dead_letter and redrive_target(queue) not in queues:
            fail(f"{name}: RedrivePolicy.deadLetterTargetArn must be !GetAtt <a queue of this template>.Arn")

    # Queue consumers: explicit event source mappings, partial batch failures, scoped permissions.
    function_timeout = lambda function: (props(function).get("Timeout")  # noqa: E731
                                         or ((template.get("Globals") or {}).get("Function") or {}).get("Timeout")
                                         or 3)
    for name, function in functions.items():
        for event_name, event in (props(function).get("Events") or {}).items():
            if isinstance(event, dict) and event.get("Type") == "SQS":
                fail(f"{name}.Events.{event_name}: consume queues with an AWS::Lambda::EventSourceMapping "
                     "(a SAM SQS event attaches AWSLambdaSQSQueueExecutionRole, which allows every queue)")
    consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

    def getatt_target(value) -> str | None:
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
        return None

    for name, mapping in of_type("AWS::Lambda::EventSourceMapping").items():
        p = props(mapping)
        queue = getatt_target(p.get("EventSourceArn"))
        if queue not in queues:
            continue
        target = p.get("FunctionName")
        function = target.get("Ref") if isinstance(target, dict) else None
        if function not in functions:
            fail(f"{name}: FunctionName must be !Ref <a function of this template>")
            continue
        if "ReportBatchItemFailures" not in (p.get("FunctionResponseTypes") or []):
            fail(f"{name}: FunctionResponseTypes must include ReportBatchItemFailures (partial batch failures)")
        allowed = set()
        for policy in props(functions[function]).get("Policies", []):
            for statement in (policy.get("Statement", []) if isinstance(policy, dict) else []):
                targets = statement.get("Resource")
                targets = targets if isinstance(targets, list) else [targets]
                if statement.get("Effect") == "Allow" and any(getatt_target(t) == queue for t in targets):
                    granted = statement.get("Action")
                    allowed |= set(granted if isinstance(granted, list) else [granted])
        if not consume <= allowed:
            fail(f"{name}: {function} may not {', '.join(sorted(consume - allowed))} on {queue} "
                 "(an explicit statement on its Arn)")
        visibility = props(queues[queue]).get("VisibilityTimeout", 30)
        timeout = function_timeout(functions[function])
        if isinstance(visibility, int) and isinstance(timeout, int) and visibility < 6 * timeout:
            fail(f"{queue}: VisibilityTimeout {visibility} is under 6x {function}'s Timeout ({timeout})")

    # Buckets: private and encrypted.
    for name, bucket in of_type("AWS::S3::Bucket").items():
        p = props(bucket)
        block = p.get("PublicAccessBlockConfiguration") or {}
        for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            if block.get(setting) is not True:
                fail(f"{name}: PublicAccessBlockConfiguration.{setting} must be true")
        if not (p.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration"):
            fail(f"{name}: BucketEncryption must be set")

    check_s3_events(functions, set(of_type("AWS::S3::Bucket")), props)
    check_references(template)

    if errors:
        print(f"check-template: {path.name}: {len(errors)} problem(s)", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        sys.exit(1)
    print(f"template: {len(actions)} actions routed, {len(functions)} functions, "
          f"{len(tables)} tables, {len(queues)} queues, IAM scoped ({len(statements)} statements)")


if __name__ == "__main__":
    main()
