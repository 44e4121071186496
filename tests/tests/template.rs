//! `template.yaml` checked against the code: every protocol action has a route with a route
//! response and every route key is an action (or `$connect`, `$disconnect`, `$default`); every
//! route and the authorizer reach a function built from the workspace binary of its
//! `functions/<name>` crate; the `$connect` route is guarded by the token authorizer; no IAM
//! statement uses a wildcard or `NotResource`, and functions use explicit statements; every function
//! that may push knows the @connections endpoint; every table is on-demand with point-in-time
//! recovery and encryption; every table the store requires is in the functions' environment and in
//! some function's IAM statements; every queue is encrypted and redrives to a dead-letter queue;
//! every queue consumer reports partial batch failures with permissions on exactly its queue; every
//! bucket is private and encrypted; S3 events cannot trigger on their function's own writes; and
//! every `!Ref`, `!GetAtt` and `${…}` names something declared. Each check is also shown to fail on
//! a template broken on purpose.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::protocol::{Action, Function};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

/// The names CloudFormation declares in every stack.
const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

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

/// The template as CloudFormation reads it, short tags spelled out (`!Ref X` as `{Ref: X}`, `!Sub s`
/// as `{Fn::Sub: s}`): only here can a reference be told from a plain string.
fn load_long_form(text: &str) -> Yaml {
    let mut long_form = LongForm::default();
    Parser::new_from_str(text).load(&mut long_form, false).unwrap();
    long_form.loader.documents()[0].clone()
}

/// Passes the parser's events on to a [`YamlLoader`], wrapping each node with a local tag (`!Name`)
/// in a one-key mapping from the tag's long form to the untagged node.
#[derive(Default)]
struct LongForm {
    loader: YamlLoader,
    /// Per open sequence or mapping: whether it was tagged, so that its end closes the wrapper too.
    open: Vec<bool>,
}

impl MarkedEventReceiver for LongForm {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let (event, tag) = untag(event);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..)) {
            self.open.push(tag.is_some());
        }
        if let Some(tag) = &tag {
            let key = match tag.as_str() {
                "Ref" | "Condition" => tag.clone(),
                function => format!("Fn::{function}"),
            };
            self.loader.on_event(Event::MappingStart(0, None), mark);
            let key = Event::Scalar(key, TScalarStyle::SingleQuoted, 0, None);
            self.loader.on_event(key, mark);
        }
        let closes_wrapper = match event {
            Event::Scalar(..) => tag.is_some(),
            Event::SequenceEnd | Event::MappingEnd => self.open.pop() == Some(true),
            _ => false,
        };
        self.loader.on_event(event, mark);
        if closes_wrapper {
            self.loader.on_event(Event::MappingEnd, mark);
        }
    }
}

/// The event without its local tag (`!Name`), and the tag's name.
fn untag(event: Event) -> (Event, Option<String>) {
    let local = |tag: &Option<Tag>| tag.as_ref().is_some_and(|tag| tag.handle == "!");
    let name = |tag: Option<Tag>| tag.map(|tag| tag.suffix);
    match event {
        Event::Scalar(value, style, anchor, tag) if local(&tag) => {
            (Event::Scalar(value, style, anchor, None), name(tag))
        }
        Event::SequenceStart(anchor, tag) if local(&tag) => (Event::SequenceStart(anchor, None), name(tag)),
        Event::MappingStart(anchor, tag) if local(&tag) => (Event::MappingStart(anchor, None), name(tag)),
        other => (other, None),
    }
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
        let shaped = key.split_once(' ').is_some_and(|(method, path)| {
            matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "ANY")
                && path.starts_with('/')
                && !path.contains(char::is_whitespace)
        });
        if !shaped {
            found.push(format!("HTTP route {name}: RouteKey {key} is not 'METHOD /path'"));
        }
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
        if !matches!(key, "$connect" | "$disconnect" | "$default")
            && !Action::ALL.iter().any(|action| action.name() == key)
        {
            found.push(format!("route {name}: RouteKey {key} is no protocol action"));
        }
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
        let Some(function) = referenced(uri, &function_names) else {
            found.push(format!("route {key} reaches no function of this template"));
            continue;
        };
        // Each function builds only the services of its own actions (`Action::function`), and
        // answers any other action with `unknown_action`.
        let serves = match key {
            "$default" => Some(Function::Message.name()),
            key => Action::from_name(key).map(|action| action.function().name()),
        };
        let code = functions
            .iter()
            .find(|(name, _)| *name == function)
            .and_then(|(_, resource)| resource["Properties"]["CodeUri"].as_str())
            .and_then(|uri| uri.strip_prefix("functions/"));
        if let Some(serves) = serves
            && code != Some(serves)
        {
            found.push(format!(
                "route {key} reaches {function}, not the {serves} function that serves it"
            ));
        }
        if key == "$connect" && route["Properties"]["AuthorizationType"].as_str() != Some("CUSTOM") {
            found.push("$connect is not guarded by the authorizer".to_owned());
        }
    }

    for (name, authorizer) in of_type(template, "AWS::ApiGatewayV2::Authorizer") {
        let uri = authorizer["Properties"]["AuthorizerUri"]
            .as_str()
            .unwrap_or_default();
        if referenced(uri, &function_names).is_none() {
            found.push(format!("authorizer {name} reaches no function of this template"));
        }
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

    // Functions: `sam build` runs `cargo lambda build` in `functions/<name>` and takes its one
    // binary, or the one `BuildProperties.Binary` names, as the bootstrap.
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    for (name, function) in &functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str();
        let code = function["Properties"]["CodeUri"].as_str().unwrap_or_default();
        let crate_name = code.strip_prefix("functions/").unwrap_or_default();
        if crate_name.is_empty()
            || !crate_name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            found.push(format!("{name}'s CodeUri {code} is not functions/<name>"));
        }
        let known = binaries.iter().any(|(dir, bins)| {
            dir == Path::new(code)
                && match binary {
                    Some(binary) => bins.iter().any(|bin| bin == binary),
                    None => bins.len() == 1,
                }
        });
        if !known {
            found.push(format!("{name} is not built from a workspace binary ({code})"));
        }
        if function["Metadata"]["BuildMethod"].as_str() != Some("rust-cargolambda") {
            found.push(format!("{name} is not built with rust-cargolambda"));
        }
        let policies = policy_list(&function["Properties"]["Policies"]);
        if policies
            .iter()
            .any(|policy| policy.as_str().is_some() || policy["Statement"].is_badvalue())
        {
            found.push(format!("{name} uses a managed or SAM policy template"));
        }
        let pushes = statements(&function["Properties"]["Policies"])
            .iter()
            .any(|statement| mentions(&statement["Action"], "execute-api:ManageConnections"));
        let endpoint = "CIRRUS_CONNECTIONS_ENDPOINT";
        if pushes
            && function["Properties"]["Environment"]["Variables"][endpoint].is_badvalue()
            && variables[endpoint].is_badvalue()
        {
            found.push(format!("{name} may ManageConnections but has no {endpoint}"));
        }
    }

    found.extend(iam_problems(template, &functions));
    found.extend(queue_problems(template));
    found.extend(bucket_problems(template));
    found.extend(queue_consumer_problems(template, &functions));
    found.extend(table_problems(template, &functions));
    found.extend(s3_event_problems(template, &functions));

    // Every stage is throttled, so the per-instance buckets have a bound in front of them.
    for (name, stage) in of_type(template, "AWS::ApiGatewayV2::Stage") {
        let settings = &stage["Properties"]["DefaultRouteSettings"];
        if !is_set(&settings["ThrottlingRateLimit"]) || !is_set(&settings["ThrottlingBurstLimit"]) {
            found.push(format!("stage {name} has no throttle"));
        }
    }

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
            .filter(|statement| statement["Effect"].as_str() == Some("Allow"))
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
            // S3 takes the rule names in any case; a rule with no value filters nothing.
            let rules: Vec<String> = event["Properties"]["Filter"]["S3Key"]["Rules"]
                .as_vec()
                .map(|rules| {
                    rules
                        .iter()
                        .filter(|rule| is_set(&rule["Value"]))
                        .filter_map(|rule| rule["Name"].as_str())
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            if !(rules.iter().any(|rule| rule == "prefix") && rules.iter().any(|rule| rule == "suffix")) {
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
    found
}

/// IAM: no statement, of a function's `Policies` or of any `AWS::IAM::*` resource, allows every
/// resource (`"*"` or `NotResource`) or a wildcard action.
fn iam_problems(template: &Yaml, functions: &[(&str, &Yaml)]) -> Vec<String> {
    let mut owned: Vec<(&str, Yaml)> = Vec::new();
    for (name, function) in functions {
        owned.extend(
            statements(&function["Properties"]["Policies"])
                .into_iter()
                .map(|statement| (*name, statement)),
        );
    }
    for (name, resource) in resources(template) {
        if resource["Type"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("AWS::IAM::"))
        {
            owned.extend(
                nested_statements(&resource["Properties"])
                    .into_iter()
                    .map(|statement| (name, statement)),
            );
        }
    }
    let mut found = Vec::new();
    for (name, statement) in owned {
        if !statement["NotResource"].is_badvalue() {
            found.push(format!("{name} has a statement with NotResource"));
        }
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
    found
}

/// Every statement of the `Statement` lists anywhere in `node`.
fn nested_statements(node: &Yaml) -> Vec<Yaml> {
    match node {
        Yaml::Hash(hash) => match node["Statement"].as_vec() {
            Some(statements) => statements.clone(),
            None => hash.values().flat_map(nested_statements).collect(),
        },
        Yaml::Array(items) => items.iter().flat_map(nested_statements).collect(),
        _ => Vec::new(),
    }
}

/// Queues: encrypted (SSE-SQS or KMS), and every queue no other queue dead-letters into redrives
/// to a queue of this template (a job that keeps failing would otherwise be retried until it
/// expires).
fn queue_problems(template: &Yaml) -> Vec<String> {
    let queues = of_type(template, "AWS::SQS::Queue");
    let redrive_target = |queue: &Yaml| {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
            .as_str()
            .and_then(|arn| arn.strip_suffix(".Arn"))
            .map(str::to_owned)
    };
    let dead_letter: BTreeSet<String> = queues
        .iter()
        .filter_map(|(_, queue)| redrive_target(queue))
        .collect();
    let mut found = Vec::new();
    for (name, queue) in &queues {
        let properties = &queue["Properties"];
        if properties["SqsManagedSseEnabled"].as_bool() != Some(true)
            && !is_set(&properties["KmsMasterKeyId"])
        {
            found.push(format!("{name} is not encrypted"));
        }
        let redrives =
            redrive_target(queue).is_some_and(|target| queues.iter().any(|(queue, _)| *queue == target));
        if !dead_letter.contains(*name) && !redrives {
            found.push(format!(
                "{name} redrives to no dead-letter queue of this template"
            ));
        }
    }
    found
}

/// Buckets: every public access blocked, and encrypted at rest.
fn bucket_problems(template: &Yaml) -> Vec<String> {
    let mut found = Vec::new();
    for (name, bucket) in of_type(template, "AWS::S3::Bucket") {
        let properties = &bucket["Properties"];
        for setting in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            if properties["PublicAccessBlockConfiguration"][setting].as_bool() != Some(true) {
                found.push(format!("{name} does not set {setting}"));
            }
        }
        if !is_set(&properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]) {
            found.push(format!("{name} is not encrypted"));
        }
    }
    found
}

/// References: every `!Ref`, `!GetAtt` and `${…}` of `Fn::Sub` (but `${!literal}` and the `Fn::Sub`'s
/// own variables) in the resources, outputs and globals names a parameter, a resource, a pseudo
/// parameter or the role SAM makes for a function that names none (`<Function>Role`).
fn reference_problems(text: &str) -> Vec<String> {
    let template = load_long_form(text);
    let mut known: BTreeSet<String> = PSEUDO_PARAMETERS.iter().map(|name| (*name).to_owned()).collect();
    for section in ["Parameters", "Resources"] {
        if let Some(hash) = template[section].as_hash() {
            known.extend(hash.keys().filter_map(Yaml::as_str).map(str::to_owned));
        }
    }
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        if function["Properties"]["Role"].is_badvalue() {
            known.insert(format!("{name}Role"));
        }
    }
    let mut found = Vec::new();
    for section in ["Resources", "Outputs", "Globals"] {
        unknown_references(&template[section], section, &known, &mut found);
    }
    found
}

/// Adds to `found` each reference in `node` (at `path`) to a name that is not `known`.
fn unknown_references(node: &Yaml, path: &str, known: &BTreeSet<String>, found: &mut Vec<String>) {
    let children: Vec<(String, &Yaml)> = match node {
        Yaml::Hash(hash) => hash
            .iter()
            .map(|(key, value)| (key.as_str().unwrap_or("?").to_owned(), value))
            .collect(),
        Yaml::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (i.to_string(), item))
            .collect(),
        _ => return,
    };
    if let [(function, value)] = children.as_slice() {
        let mut unknown = |name: &str, written: String| {
            if !known.contains(name) {
                found.push(format!("{path}: {written} names nothing declared"));
            }
        };
        match function.as_str() {
            "Ref" => {
                if let Some(name) = value.as_str() {
                    unknown(name, format!("!Ref {name}"));
                }
            }
            "Fn::GetAtt" => {
                let target = match value {
                    Yaml::Array(parts) => parts.first().and_then(Yaml::as_str),
                    value => value.as_str().and_then(|text| text.split('.').next()),
                };
                let target = target.unwrap_or_default();
                unknown(target, format!("!GetAtt {target}"));
            }
            "Fn::Sub" => {
                let (text, locals) = match value {
                    Yaml::Array(parts) => (parts.first().and_then(Yaml::as_str), parts.get(1)),
                    value => (value.as_str(), None),
                };
                for name in sub_names(text.unwrap_or_default()) {
                    if locals.is_none_or(|locals| locals[name].is_badvalue()) {
                        unknown(name, format!("${{{name}}}"));
                    }
                }
            }
            _ => {}
        }
    }
    for (key, child) in children {
        unknown_references(child, &format!("{path}/{key}"), known, found);
    }
}

/// The names a `Fn::Sub` string refers to: `X` of `${X}` and `${X.Attr}`, not `${!literal}`.
fn sub_names(text: &str) -> Vec<&str> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(inside, _)| inside))
        .filter(|inside| !inside.is_empty() && !inside.starts_with('!'))
        .filter_map(|inside| inside.split('.').next())
        .collect()
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

/// The policies of a function's `Policies`: a list, or one policy on its own.
fn policy_list(policies: &Yaml) -> Vec<&Yaml> {
    match policies {
        Yaml::Array(policies) => policies.iter().collect(),
        Yaml::BadValue | Yaml::Null => Vec::new(),
        policy => vec![policy],
    }
}

fn statements(policies: &Yaml) -> Vec<Yaml> {
    policy_list(policies)
        .into_iter()
        .flat_map(|policy| policy["Statement"].as_vec().cloned().unwrap_or_default())
        .collect()
}

/// Whether a property is given a value (not missing, null or empty), as CloudFormation takes it.
fn is_set(node: &Yaml) -> bool {
    match node {
        Yaml::BadValue | Yaml::Null => false,
        Yaml::String(text) => !text.is_empty(),
        Yaml::Array(items) => !items.is_empty(),
        Yaml::Hash(hash) => !hash.is_empty(),
        _ => true,
    }
}

fn problems_of(text: &str) -> Vec<String> {
    let mut found = problems(&load(text), &workspace_binaries());
    found.extend(reference_problems(text));
    found
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
fn a_stage_without_a_throttle_is_found() {
    let found = problems_of(&broken(
        "ThrottlingRateLimit: !Ref HttpThrottleRate",
        "Description: none",
    ));
    assert!(
        found.contains(&"stage HttpApiStage has no throttle".to_owned()),
        "{found:?}"
    );
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
fn an_action_routed_to_a_function_that_does_not_serve_it_is_found() {
    let found = problems_of(&broken(
        "RouteKey: friend.add\n      RouteResponseSelectionExpression: $default\n      Target: !Sub \"integrations/${SocialIntegration}\"",
        "RouteKey: friend.add\n      RouteResponseSelectionExpression: $default\n      Target: !Sub \"integrations/${MessageIntegration}\"",
    ));
    assert!(
        found.contains(
            &"route friend.add reaches MessageFunction, not the social function that serves it".to_owned()
        ),
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

#[test]
fn a_route_key_that_is_no_protocol_action_is_found() {
    let found = problems_of(&broken("RouteKey: msg.send", "RouteKey: msg.sent"));
    assert!(
        found
            .iter()
            .any(|problem| problem.ends_with("RouteKey msg.sent is no protocol action")),
        "{found:?}"
    );
}

#[test]
fn an_authorizer_that_reaches_no_function_is_found() {
    let found = problems_of(&broken("${AuthorizerFunction.Arn}", "${ConnectIntegration}"));
    assert!(
        found.contains(&"authorizer Authorizer reaches no function of this template".to_owned()),
        "{found:?}"
    );
}

#[test]
fn an_http_route_key_without_a_method_is_found() {
    let found = problems_of(&broken("RouteKey: POST /v4/{proxy+}", "RouteKey: /v4/{proxy+}"));
    assert!(
        found
            .contains(&"HTTP route HttpApiRestRoute: RouteKey /v4/{proxy+} is not 'METHOD /path'".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_function_built_from_outside_functions_is_found() {
    // shared/client is a workspace member with one binary: only the CodeUri's shape is wrong.
    let found = problems_of(&broken("CodeUri: functions/message", "CodeUri: shared/client"));
    assert!(
        found.contains(&"MessageFunction's CodeUri shared/client is not functions/<name>".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_build_binary_of_another_crate_is_found() {
    let found = problems_of(&broken(
        "  MessageFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n",
        "  MessageFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: cirrus\n",
    ));
    assert!(
        found
            .contains(&"MessageFunction is not built from a workspace binary (functions/message)".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_function_that_may_push_without_the_endpoint_is_found() {
    let found = problems_of(&broken(
        "CIRRUS_CONNECTIONS_ENDPOINT: !If",
        "CIRRUS_CONNECTIONS_URL: !If",
    ));
    assert!(
        found.contains(
            &"ConnectFunction may ManageConnections but has no CIRRUS_CONNECTIONS_ENDPOINT".to_owned()
        ),
        "{found:?}"
    );
}

#[test]
fn a_statement_with_not_resource_is_found() {
    let found = problems_of(&broken(
        "Resource: !GetAtt ConnectionsTable.Arn",
        "NotResource: !GetAtt ConnectionsTable.Arn",
    ));
    assert!(
        found
            .iter()
            .any(|problem| problem.ends_with("has a statement with NotResource")),
        "{found:?}"
    );
}

#[test]
fn a_wildcard_in_any_iam_resource_is_found() {
    let found = problems_of(&broken(
        "Resources:\n",
        "Resources:\n  EverythingPolicy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement:\n          - Effect: Allow\n            Action: \"*\"\n            Resource: \"*\"\n",
    ));
    for problem in [
        "EverythingPolicy has a wildcard Action: *",
        "EverythingPolicy has a wildcard Resource: *",
    ] {
        assert!(found.contains(&problem.to_owned()), "{found:?}");
    }
}

#[test]
fn an_unencrypted_queue_is_found() {
    let found = problems_of(&broken(
        "SqsManagedSseEnabled: true",
        "SqsManagedSseEnabled: false",
    ));
    assert!(
        found.contains(&"PushQueue is not encrypted".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_queue_without_a_dead_letter_queue_is_found() {
    let found = problems_of(&broken(
        "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt PushDeadLetterQueue.Arn\n        maxReceiveCount: 5\n",
        "",
    ));
    assert!(
        found.contains(&"PushQueue redrives to no dead-letter queue of this template".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_consumer_whose_queue_statement_denies_is_found() {
    let found = problems_of(&broken(
        "            - Sid: ConsumePushQueue\n              Effect: Allow\n",
        "            - Sid: ConsumePushQueue\n              Effect: Deny\n",
    ));
    assert!(
        found.contains(&"PushFunction may not sqs:ReceiveMessage on PushQueue".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_public_or_unencrypted_bucket_is_found() {
    let public = problems_of(&broken("BlockPublicAcls: true", "BlockPublicAcls: false"));
    assert!(
        public.contains(&"MediaBucket does not set BlockPublicAcls".to_owned()),
        "{public:?}"
    );
    let plain = problems_of(&broken(
        "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }\n",
        "",
    ));
    assert!(
        plain.contains(&"MediaBucket is not encrypted".to_owned()),
        "{plain:?}"
    );
}

#[test]
fn s3_key_rules_are_read_in_any_case_but_need_a_value() {
    let problem = "MediaFunction's S3 event does not filter keys by prefix and suffix".to_owned();
    let capitalized = problems_of(&broken(
        "{ Name: suffix, Value: /original }",
        "{ Name: Suffix, Value: /original }",
    ));
    assert!(!capitalized.contains(&problem), "{capitalized:?}");
    let empty = problems_of(&broken(
        "{ Name: suffix, Value: /original }",
        "{ Name: suffix, Value: \"\" }",
    ));
    assert!(empty.contains(&problem), "{empty:?}");
}

#[test]
fn references_to_nothing_declared_are_found() {
    let found = problems_of(&broken("ApiId: !Ref WebSocketApi", "ApiId: !Ref WebSocketApy"));
    assert!(
        found.contains(
            &"Resources/Authorizer/Properties/ApiId: !Ref WebSocketApy names nothing declared".to_owned()
        ),
        "{found:?}"
    );
    let found = problems_of(&broken("!GetAtt UsersTable.Arn", "!GetAtt UserTable.Arn"));
    assert!(
        found
            .iter()
            .any(|problem| problem.ends_with(": !GetAtt UserTable names nothing declared")),
        "{found:?}"
    );
    let found = problems_of(&broken("${AWS::StackName}-ws", "${StackName}-ws"));
    assert!(
        found.contains(
            &"Resources/WebSocketApi/Properties/Name: ${StackName} names nothing declared".to_owned()
        ),
        "{found:?}"
    );
}

#[test]
fn sub_strings_name_what_they_interpolate_but_literals() {
    assert_eq!(
        sub_names("arn:${AWS::Partition}:${Table.Arn}/index/${!Literal}${}"),
        ["AWS::Partition", "Table"]
    );
}
