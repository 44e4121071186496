//! `template.yaml` checked against the code: every protocol action has a route with a route
//! response, every route reaches a function built from a workspace binary, the `$connect` route
//! is guarded by the token authorizer, no function's IAM statement uses a wildcard, every table
//! keeps point-in-time recovery and encryption, every table the store requires is in the
//! functions' environment and in some function's IAM statements, and every queue consumer
//! reports partial batch failures with permissions on exactly its queue. Each check is also shown
//! to fail on a template broken on purpose.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::protocol::Action;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template_text() -> String {
    std::fs::read_to_string(root().join("template.yaml")).unwrap()
}

/// CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, …) load as their plain values, which
/// is all these checks read.
fn load(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).unwrap().remove(0)
}

/// Every binary of the workspace: package directory → binary names.
fn workspace_binaries() -> Vec<(PathBuf, Vec<String>)> {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    members
        .iter()
        .map(|member| {
            let dir = PathBuf::from(member.as_str().unwrap());
            let package: toml::Table = std::fs::read_to_string(root().join(&dir).join("Cargo.toml"))
                .unwrap()
                .parse()
                .unwrap();
            let mut bins: Vec<String> = package
                .get("bin")
                .and_then(|bins| bins.as_array())
                .map(|bins| {
                    bins.iter()
                        .map(|bin| bin["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            if bins.is_empty() && root().join(&dir).join("src/main.rs").exists() {
                bins.push(package["package"]["name"].as_str().unwrap().to_owned());
            }
            (dir, bins)
        })
        .collect()
}

fn resources(template: &Yaml) -> Vec<(&str, &Yaml)> {
    template["Resources"]
        .as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(name, resource)| Some((name.as_str()?, resource)))
                .collect()
        })
        .unwrap_or_default()
}

fn of_type<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    resources(template)
        .into_iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .collect()
}

/// The resource `${Name…}` or a plain `Name` in `text` points at, among `names`.
fn referenced<'a>(text: &str, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|name| {
        text == *name || text.contains(&format!("${{{name}.")) || text.contains(&format!("${{{name}}}"))
    })
}

/// Everything wrong with `template`, given the workspace's binaries.
fn problems(template: &Yaml, binaries: &[(PathBuf, Vec<String>)]) -> Vec<String> {
    let mut found = Vec::new();
    // HTTP API routes (`METHOD /path`) have no route responses and are no protocol actions: only
    // the WebSocket API's routes are held to those rules; every route must reach a function.
    let http_apis: Vec<&str> = of_type(template, "AWS::ApiGatewayV2::Api")
        .into_iter()
        .filter(|(_, api)| api["Properties"]["ProtocolType"].as_str() == Some("HTTP"))
        .map(|(name, _)| name)
        .collect();
    let (http_routes, routes): (Vec<_>, Vec<_>) = of_type(template, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .partition(|(_, route)| {
            route["Properties"]["ApiId"]
                .as_str()
                .is_some_and(|api| http_apis.contains(&api))
        });
    let responses = of_type(template, "AWS::ApiGatewayV2::RouteResponse");
    let integrations = of_type(template, "AWS::ApiGatewayV2::Integration");
    let functions = of_type(template, "AWS::Serverless::Function");
    let function_names: Vec<&str> = functions.iter().map(|(name, _)| *name).collect();
    let integration_names: Vec<&str> = integrations.iter().map(|(name, _)| *name).collect();

    for (name, route) in &http_routes {
        let key = route["Properties"]["RouteKey"].as_str().unwrap_or("?");
        let target = route["Properties"]["Target"].as_str().unwrap_or_default();
        let uri = referenced(target, &integration_names)
            .and_then(|integration| integrations.iter().find(|(name, _)| *name == integration))
            .and_then(|(_, resource)| resource["Properties"]["IntegrationUri"].as_str())
            .unwrap_or_default();
        if referenced(uri, &function_names).is_none() {
            found.push(format!(
                "HTTP route {name} ({key}) reaches no function of this template"
            ));
        }
    }

    // Routes: one per action, plus API Gateway's three special routes.
    let keys: BTreeSet<&str> = routes
        .iter()
        .filter_map(|(_, route)| route["Properties"]["RouteKey"].as_str())
        .collect();
    for action in Action::ALL {
        if !keys.contains(action.name()) {
            found.push(format!("action {} has no route", action.name()));
        }
    }
    for special in ["$connect", "$disconnect", "$default"] {
        if !keys.contains(special) {
            found.push(format!("no {special} route"));
        }
    }

    for (name, route) in &routes {
        let key = route["Properties"]["RouteKey"].as_str().unwrap_or("?");
        // A route answers its caller only through a route response ($connect and $disconnect
        // answer nobody).
        if !matches!(key, "$connect" | "$disconnect")
            && !responses
                .iter()
                .any(|(_, response)| response["Properties"]["RouteId"].as_str() == Some(name))
        {
            found.push(format!("route {key} has no route response"));
        }
        let target = route["Properties"]["Target"].as_str().unwrap_or_default();
        let Some(integration) = referenced(target, &integration_names) else {
            found.push(format!("route {key} targets no integration of this template"));
            continue;
        };
        let uri = integrations
            .iter()
            .find(|(name, _)| *name == integration)
            .map(|(_, resource)| {
                resource["Properties"]["IntegrationUri"]
                    .as_str()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if referenced(uri, &function_names).is_none() {
            found.push(format!("route {key} reaches no function of this template"));
        }
        if key == "$connect" && route["Properties"]["AuthorizationType"].as_str() != Some("CUSTOM") {
            found.push("$connect is not guarded by the authorizer".to_owned());
        }
    }

    for (_, authorizer) in of_type(template, "AWS::ApiGatewayV2::Authorizer") {
        let sources = authorizer["Properties"]["IdentitySource"]
            .as_vec()
            .cloned()
            .unwrap_or_default();
        if !sources
            .iter()
            .any(|source| source.as_str() == Some("route.request.querystring.token"))
        {
            found.push("the authorizer does not read the token query parameter".to_owned());
        }
    }

    // Functions: built from a workspace binary, with no wildcard in any IAM statement.
    for (name, function) in &functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str();
        let code = function["Properties"]["CodeUri"].as_str().unwrap_or_default();
        let known = match binary {
            Some(binary) => binaries
                .iter()
                .any(|(_, bins)| bins.iter().any(|bin| bin == binary)),
            None => binaries
                .iter()
                .any(|(dir, bins)| dir == Path::new(code) && bins.len() == 1),
        };
        if !known {
            found.push(format!("{name} is not built from a workspace binary ({code})"));
        }
        if function["Metadata"]["BuildMethod"].as_str() != Some("rust-cargolambda") {
            found.push(format!("{name} is not built with rust-cargolambda"));
        }
        for statement in statements(&function["Properties"]["Policies"]) {
            for field in ["Resource", "Action"] {
                let values = match &statement[field] {
                    Yaml::Array(values) => values.clone(),
                    value => vec![value.clone()],
                };
                for value in values {
                    let text = value.as_str().unwrap_or_default();
                    if text == "*" || (field == "Action" && text.ends_with('*')) {
                        found.push(format!("{name} has a wildcard {field}: {text}"));
                    }
                }
            }
        }
        if let Some(policies) = function["Properties"]["Policies"].as_vec()
            && policies
                .iter()
                .any(|policy| policy.as_str().is_some() || policy["Statement"].is_badvalue())
        {
            found.push(format!("{name} uses a managed or SAM policy template"));
        }
    }

    found.extend(queue_consumer_problems(template, &functions));
    found.extend(table_problems(template, &functions));
    found.extend(s3_event_problems(template, &functions));

    for (name, table) in of_type(template, "AWS::DynamoDB::Table") {
        let properties = &table["Properties"];
        if properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool()
            != Some(true)
        {
            found.push(format!("{name} has no point-in-time recovery"));
        }
        if properties["SSESpecification"]["SSEEnabled"].as_bool() != Some(true) {
            found.push(format!("{name} is not encrypted"));
        }
        if properties["BillingMode"].as_str() != Some("PAY_PER_REQUEST") {
            found.push(format!("{name} is not on-demand"));
        }
    }
    found
}

/// The `CIRRUS_*_TABLE` variables `Config::from_env` requires (shared/aws/src/config.rs).
fn required_table_vars() -> Vec<String> {
    let config = std::fs::read_to_string(root().join("shared/aws/src/config.rs")).unwrap();
    config
        .split("var(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
        .filter(|name| name.starts_with("CIRRUS_") && name.ends_with("_TABLE"))
        .map(str::to_owned)
        .collect()
}

/// Tables against the code: every table variable the store requires is in the functions'
/// environment (`Globals`) and names a declared table, every declared table is named by one (the
/// store knows it), and some function's IAM statements name it (a table nothing may use is a
/// wiring slip).
fn table_problems(template: &Yaml, functions: &[(&str, &Yaml)]) -> Vec<String> {
    let mut found = Vec::new();
    let tables: Vec<&str> = of_type(template, "AWS::DynamoDB::Table")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let mut named = BTreeSet::new();
    for variable in required_table_vars() {
        match variables[variable.as_str()].as_str() {
            Some(table) if tables.contains(&table) => {
                named.insert(table.to_owned());
            }
            _ => found.push(format!("{variable} does not name a table of this template")),
        }
    }
    for table in &tables {
        if !named.contains(*table) {
            found.push(format!("{table} is named by no table variable of the store"));
        }
        let usable = functions.iter().any(|(_, function)| {
            statements(&function["Properties"]["Policies"])
                .iter()
                .any(|statement| mentions(&statement["Resource"], table))
        });
        if !usable {
            found.push(format!("{table} is in no function's IAM statements"));
        }
    }
    found
}

/// Queue consumers: explicit event source mappings (a SAM `SQS` event attaches the managed
/// AWSLambdaSQSQueueExecutionRole, whose statements allow every queue), reporting partial batch
/// failures, run by a function whose own statements let it consume that queue, and the queue's
/// visibility timeout at least 6x the function's timeout (AWS's advice for SQS event sources).
fn queue_consumer_problems(template: &Yaml, functions: &[(&str, &Yaml)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, function) in functions {
        let events = function["Properties"]["Events"]
            .as_hash()
            .cloned()
            .unwrap_or_default();
        if events.values().any(|event| event["Type"].as_str() == Some("SQS")) {
            found.push(format!("{name} consumes a queue through a SAM SQS event"));
        }
    }
    let queues = of_type(template, "AWS::SQS::Queue");
    for (name, mapping) in of_type(template, "AWS::Lambda::EventSourceMapping") {
        let properties = &mapping["Properties"];
        let source = properties["EventSourceArn"].as_str().unwrap_or_default();
        let Some((queue_name, queue)) = queues.iter().find(|(queue, _)| source == format!("{queue}.Arn"))
        else {
            continue;
        };
        let Some((function_name, function)) = functions
            .iter()
            .find(|(function, _)| properties["FunctionName"].as_str() == Some(function))
        else {
            found.push(format!("{name} invokes no function of this template"));
            continue;
        };
        let reports = properties["FunctionResponseTypes"].as_vec().is_some_and(|types| {
            types
                .iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        });
        if !reports {
            found.push(format!("{name} does not report partial batch failures"));
        }
        let arn = format!("{queue_name}.Arn");
        let allowed: BTreeSet<String> = statements(&function["Properties"]["Policies"])
            .iter()
            .filter(|statement| {
                let resources = match &statement["Resource"] {
                    Yaml::Array(resources) => resources.clone(),
                    resource => vec![resource.clone()],
                };
                resources
                    .iter()
                    .any(|resource| resource.as_str() == Some(arn.as_str()))
            })
            .flat_map(|statement| match &statement["Action"] {
                Yaml::Array(actions) => actions.clone(),
                action => vec![action.clone()],
            })
            .filter_map(|action| action.as_str().map(str::to_owned))
            .collect();
        for action in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ] {
            if !allowed.contains(action) {
                found.push(format!("{function_name} may not {action} on {queue_name}"));
            }
        }
        let timeout = function["Properties"]["Timeout"]
            .as_i64()
            .or(template["Globals"]["Function"]["Timeout"].as_i64())
            .unwrap_or(3);
        let visibility = queue["Properties"]["VisibilityTimeout"].as_i64().unwrap_or(30);
        if visibility < 6 * timeout {
            found.push(format!(
                "{queue_name}'s visibility timeout is under 6x {function_name}'s timeout"
            ));
        }
    }
    found
}

/// S3-triggered functions (media processing): the event names a bucket of this template and
/// filters keys by prefix and suffix (the function writes into the bucket that triggers it: without
/// a filter its own writes would trigger it again); the function does not refer to that bucket
/// (SAM's notification makes the bucket depend on the function, so a reference back is a circular
/// dependency) and gets its object permissions from a separate `AWS::IAM::Policy` on its role, which
/// must let it read the bucket's objects and use no wildcard.
fn s3_event_problems(template: &Yaml, functions: &[(&str, &Yaml)]) -> Vec<String> {
    let mut found = Vec::new();
    let buckets: Vec<&str> = of_type(template, "AWS::S3::Bucket")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let policies = of_type(template, "AWS::IAM::Policy");
    for (name, function) in functions {
        let Some(events) = function["Properties"]["Events"].as_hash() else {
            continue;
        };
        for event in events
            .values()
            .filter(|event| event["Type"].as_str() == Some("S3"))
        {
            let bucket = event["Properties"]["Bucket"].as_str().unwrap_or_default();
            if !buckets.contains(&bucket) {
                found.push(format!("{name}'s S3 event names no bucket of this template"));
                continue;
            }
            let rules: Vec<&str> = event["Properties"]["Filter"]["S3Key"]["Rules"]
                .as_vec()
                .map(|rules| rules.iter().filter_map(|rule| rule["Name"].as_str()).collect())
                .unwrap_or_default();
            if !(rules.contains(&"prefix") && rules.contains(&"suffix")) {
                found.push(format!(
                    "{name}'s S3 event does not filter keys by prefix and suffix"
                ));
            }
            let mut own = function["Properties"].as_hash().cloned().unwrap_or_default();
            own.remove(&Yaml::String("Events".to_owned()));
            if mentions(&Yaml::Hash(own), bucket) {
                found.push(format!(
                    "{name} refers to {bucket}, which its S3 event makes depend on it (circular dependency)"
                ));
            }
            let role = format!("{name}Role");
            let reads = policies.iter().any(|(_, policy)| {
                let properties = &policy["Properties"];
                let attached = properties["Roles"]
                    .as_vec()
                    .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role.as_str())));
                attached
                    && statements(&Yaml::Array(vec![properties["PolicyDocument"].clone()]))
                        .iter()
                        .any(|statement| {
                            mentions(&statement["Resource"], bucket)
                                && mentions(&statement["Action"], "s3:GetObject")
                        })
            });
            if !reads {
                found.push(format!("{name} may not read the objects of {bucket}"));
            }
        }
    }
    for (name, policy) in policies {
        let document = Yaml::Array(vec![policy["Properties"]["PolicyDocument"].clone()]);
        for statement in statements(&document) {
            for field in ["Resource", "Action"] {
                let values = match &statement[field] {
                    Yaml::Array(values) => values.clone(),
                    value => vec![value.clone()],
                };
                for value in values {
                    let text = value.as_str().unwrap_or_default();
                    if text == "*" || (field == "Action" && text.ends_with('*')) {
                        found.push(format!("{name} has a wildcard {field}: {text}"));
                    }
                }
            }
        }
    }
    found
}

/// Whether `node` names `name`: as a plain value (`!Ref`), `name.Attr` (`!GetAtt`) or `${name…}`
/// in a `!Sub`.
fn mentions(node: &Yaml, name: &str) -> bool {
    match node {
        Yaml::String(text) => {
            text == name
                || text.starts_with(&format!("{name}."))
                || text.contains(&format!("${{{name}."))
                || text.contains(&format!("${{{name}}}"))
        }
        Yaml::Array(items) => items.iter().any(|item| mentions(item, name)),
        Yaml::Hash(hash) => hash.values().any(|value| mentions(value, name)),
        _ => false,
    }
}

fn statements(policies: &Yaml) -> Vec<Yaml> {
    policies
        .as_vec()
        .map(|policies| {
            policies
                .iter()
                .flat_map(|policy| policy["Statement"].as_vec().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

fn problems_of(text: &str) -> Vec<String> {
    problems(&load(text), &workspace_binaries())
}

/// The template with `from` replaced by `to` (which must occur).
fn broken(from: &str, to: &str) -> String {
    let text = template_text();
    assert!(text.contains(from), "the template no longer contains {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn the_template_matches_the_code() {
    assert_eq!(problems_of(&template_text()), Vec::<String>::new());
}

#[test]
fn a_protocol_action_without_a_route_is_found() {
    let found = problems_of(&broken("RouteKey: msg.send", "RouteKey: msg.sent"));
    assert!(
        found.contains(&"action msg.send has no route".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_function_that_is_no_workspace_binary_is_found() {
    let found = problems_of(&broken(
        "CodeUri: functions/message",
        "CodeUri: functions/nowhere",
    ));
    assert!(
        found
            .iter()
            .any(|problem| problem.starts_with("MessageFunction is not built from a workspace binary")),
        "{found:?}"
    );
}

#[test]
fn a_wildcard_resource_is_found() {
    let found = problems_of(&broken(
        "Resource: !GetAtt ConnectionsTable.Arn",
        "Resource: \"*\"",
    ));
    assert!(
        found
            .iter()
            .any(|problem| problem.contains("has a wildcard Resource: *")),
        "{found:?}"
    );
}

#[test]
fn a_connect_route_without_the_authorizer_is_found() {
    let found = problems_of(&broken("AuthorizationType: CUSTOM", "AuthorizationType: NONE"));
    assert!(
        found.contains(&"$connect is not guarded by the authorizer".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_table_without_point_in_time_recovery_is_found() {
    let found = problems_of(&broken(
        "PointInTimeRecoveryEnabled: true",
        "PointInTimeRecoveryEnabled: false",
    ));
    assert!(
        found
            .iter()
            .any(|problem| problem.ends_with("has no point-in-time recovery")),
        "{found:?}"
    );
}

#[test]
fn an_http_route_that_reaches_no_function_is_found() {
    let found = problems_of(&broken(
        "${ApiFunction.Arn}/invocations",
        "${NoSuchFunction.Arn}/invocations",
    ));
    assert!(
        found
            .iter()
            .any(|problem| problem.starts_with("HTTP route HttpApiRestRoute")),
        "{found:?}"
    );
}

#[test]
fn a_queue_consumer_without_partial_batch_failures_is_found() {
    let found = problems_of(&broken(
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "FunctionResponseTypes: []",
    ));
    assert!(
        found.contains(&"PushEventSource does not report partial batch failures".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_queue_consumer_without_permission_on_its_queue_is_found() {
    let found = problems_of(&broken(
        "Resource: !GetAtt PushQueue.Arn",
        "Resource: !GetAtt FanoutQueue.Arn",
    ));
    assert!(
        found.contains(&"PushFunction may not sqs:ReceiveMessage on PushQueue".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_consumer_slower_than_its_queues_visibility_timeout_allows_is_found() {
    let found = problems_of(&broken("Timeout: 30", "Timeout: 60"));
    assert!(
        found.contains(&"PushQueue's visibility timeout is under 6x PushFunction's timeout".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_sam_sqs_event_is_found() {
    let found = problems_of(&broken(
        "      CodeUri: functions/push\n",
        "      CodeUri: functions/push\n      Events:\n        Jobs:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt PushQueue.Arn\n",
    ));
    assert!(
        found.contains(&"PushFunction consumes a queue through a SAM SQS event".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_media_function_that_refers_to_its_bucket_is_found() {
    let found = problems_of(&broken(
        "      CodeUri: functions/media\n",
        "      CodeUri: functions/media\n      Environment:\n        Variables:\n          CIRRUS_MEDIA_BUCKET: !Ref MediaBucket\n",
    ));
    assert!(
        found.iter().any(|problem| problem
            == "MediaFunction refers to MediaBucket, which its S3 event makes depend on it (circular dependency)"),
        "{found:?}"
    );
}

#[test]
fn an_s3_event_that_would_see_its_own_writes_is_found() {
    let found = problems_of(&broken(
        "                  - { Name: suffix, Value: /original }\n",
        "",
    ));
    assert!(
        found.contains(&"MediaFunction's S3 event does not filter keys by prefix and suffix".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_media_policy_with_a_wildcard_or_without_reads_is_found() {
    let found = problems_of(&broken(
        "Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]",
        "Action: [\"s3:*\"]",
    ));
    assert!(
        found.contains(&"MediaFunctionObjects has a wildcard Action: s3:*".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&"MediaFunction may not read the objects of MediaBucket".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_table_the_store_requires_but_the_functions_do_not_get_is_found() {
    let found = problems_of(&broken("        CIRRUS_MEMBERS_TABLE: !Ref MembersTable\n", ""));
    assert!(
        found.contains(&"CIRRUS_MEMBERS_TABLE does not name a table of this template".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&"MembersTable is named by no table variable of the store".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_table_no_function_may_use_is_found() {
    let text = template_text();
    assert!(text.contains("GroupsTable.Arn"));
    let found = problems_of(&text.replace("GroupsTable.Arn", "MembersTable.Arn"));
    assert!(
        found.contains(&"GroupsTable is in no function's IAM statements".to_owned()),
        "{found:?}"
    );
}
