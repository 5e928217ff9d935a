//! Who may call each route, declared where the route is. An API operation names its
//! permission as the OpenAPI security scope of its `#[utoipa::path]`
//! (`security(("token" = ["operate"]))`, or `security(())` for what anyone may reach),
//! so the published contract says what the gate enforces; the few routes outside that
//! document (the MLflow proxy, the document itself) declare theirs with
//! [`Rules::declare`] as they are registered. The access layer looks up the route the
//! router matched; a route or method without a declaration is refused.

use axum::http::Method;
use serde_json::Value;
use shared::Permission;
use std::collections::HashMap;

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Anyone: the health check, signing in, the contract.
    Public,
    Need(Permission),
    /// Another program's UI framed by the dashboard (MLflow's), which cannot send our
    /// CSRF header (same-origin fetch metadata stands in for it), with the permission
    /// decided by method and path (MLflow searches with POSTs that only read).
    Framed(fn(&Method, &str) -> Permission),
}

impl Rule {
    /// The permission this request needs; `None` for a public route.
    pub fn needs(&self, method: &Method, path: &str) -> Option<Permission> {
        match self {
            Rule::Public => None,
            Rule::Need(permission) => Some(*permission),
            Rule::Framed(decide) => Some(decide(method, path)),
        }
    }
}

/// What the routes declared, by the router's route pattern (`/api/workflows/{id}`).
#[derive(Debug, Default)]
pub struct Rules {
    routes: HashMap<String, Vec<(Option<Method>, Rule)>>,
}

/// What a request's route and method declared.
pub enum Lookup<'a> {
    Declared(&'a Rule),
    /// The route exists but declares nothing for this method: 405, with the methods it has.
    NoSuchMethod(Vec<Method>),
}

impl Rules {
    /// The rules the operations of `document` (paths already under their prefix)
    /// declare; an operation that declares none is a programming error, named.
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Result<Rules, String> {
        let mut rules = Rules::default();
        let paths = serde_json::to_value(&document.paths).map_err(|e| e.to_string())?;
        let items = paths.as_object().into_iter().flatten();
        for (path, item) in items {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else { continue };
                let rule = declared(operation).map_err(|why| format!("{method} {path}: {why}"))?;
                rules.declare(path, Some(method), rule);
            }
        }
        Ok(rules)
    }

    /// Declares `rule` for `method` (every method: `None`) on the route `path`.
    pub fn declare(&mut self, path: &str, method: Option<Method>, rule: Rule) {
        self.routes.entry(path.to_owned()).or_default().push((method, rule));
    }

    /// The rule for `method` on the matched route `path` (HEAD is GET's).
    pub fn find(&self, method: &Method, path: &str) -> Lookup<'_> {
        let wanted = if *method == Method::HEAD { &Method::GET } else { method };
        let declared = self.routes.get(path).map(Vec::as_slice).unwrap_or_default();
        match declared.iter().find(|(m, _)| m.as_ref().is_none_or(|m| m == wanted)) {
            Some((_, rule)) => Lookup::Declared(rule),
            None => Lookup::NoSuchMethod(declared.iter().filter_map(|(m, _)| m.clone()).collect()),
        }
    }

    /// Every declared route and method, for the tests that walk them.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Option<&Method>, &Rule)> {
        self.routes.iter().flat_map(|(path, all)| all.iter().map(move |(m, rule)| (path.as_str(), m.as_ref(), rule)))
    }
}

/// The rule an operation's `security` states: `[{}]` public, else one scope naming a
/// permission, the same in every scheme.
fn declared(operation: &Value) -> Result<Rule, String> {
    let requirements = operation
        .get("security")
        .and_then(Value::as_array)
        .ok_or("declares no permission: add security((\"token\" = [\"<permission>\"])) or security(())")?;
    let scopes: Vec<&Value> =
        requirements.iter().filter_map(Value::as_object).flat_map(|requirement| requirement.values()).collect();
    let public = matches!(requirements.as_slice(), [only] if only.as_object().is_some_and(|o| o.is_empty()));
    match scopes.first() {
        None if public => Ok(Rule::Public),
        Some(Value::Array(names)) if names.len() == 1 && scopes.iter().all(|other| *other == scopes[0]) => {
            names[0].as_str().unwrap_or_default().parse().map(Rule::Need)
        }
        _ => Err(format!("declares an unclear permission: {requirements:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_declare_one_permission_or_none() {
        let need = |value: Value| match declared(&json!({ "security": value })) {
            Ok(Rule::Need(permission)) => Some(permission),
            Ok(Rule::Public) => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(need(json!([{}])), None);
        assert_eq!(need(json!([{"token": ["operate"]}])), Some(Permission::Operate));
        assert_eq!(need(json!([{"token": ["read"]}, {"session": ["read"]}])), Some(Permission::Read));
        for unclear in [
            json!(null),
            json!([]),
            json!([{"token": []}]),
            json!([{"token": ["read", "operate"]}]),
            json!([{"token": ["read"]}, {"session": ["operate"]}]),
            json!([{"token": ["root"]}]),
        ] {
            assert!(declared(&json!({ "security": unclear })).is_err(), "{unclear}");
        }
    }

    #[test]
    fn head_is_get_and_undeclared_methods_are_named() {
        let mut rules = Rules::default();
        rules.declare("/api/x", Some(Method::GET), Rule::Need(Permission::Read));
        rules.declare("/mlflow/{*rest}", None, Rule::Public);
        assert!(matches!(rules.find(&Method::HEAD, "/api/x"), Lookup::Declared(Rule::Need(Permission::Read))));
        assert!(matches!(rules.find(&Method::DELETE, "/api/x"), Lookup::NoSuchMethod(m) if m == [Method::GET]));
        assert!(matches!(rules.find(&Method::PUT, "/mlflow/{*rest}"), Lookup::Declared(Rule::Public)));
        assert!(matches!(rules.find(&Method::GET, "/nowhere"), Lookup::NoSuchMethod(m) if m.is_empty()));
    }
}
