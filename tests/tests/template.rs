//! `template.yaml` checked against the code: every protocol action has a route with a route
//! response, every route reaches a function built from a workspace binary, the `$connect` route
//! is guarded by the token authorizer, no function's IAM statement uses a wildcard, and every
//! table keeps point-in-time recovery and encryption. Each check is also shown to fail on a
//! template broken on purpose.

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
