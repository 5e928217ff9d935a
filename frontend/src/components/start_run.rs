//! "Start a run": pick a workflow that an alive agent serves, fill its inputs as JSON
//! (checked as you type against the agent's schema), and follow the new run live.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use serde_json::{Map, Value};
use shared::{CatalogEntry, Permission, StartRun};

use crate::components::{use_notices, Dialog, Loading, Tone};
use crate::{api, format};

/// The button that opens the form; with `agent`, for that agent's workflows on it.
#[component]
pub fn StartRunButton(#[prop(optional, into)] agent: Option<String>) -> impl IntoView {
    let open = RwSignal::new(false);
    crate::can(Permission::Operate).then(|| {
        view! {
            <button data-testid="start-run" on:click=move |_| open.set(true)>"Start run"</button>
            <Dialog open id="start-run">
                <StartRunForm close=move || open.set(false) agent=agent.clone() />
            </Dialog>
        }
    })
}

#[component]
fn StartRunForm(close: impl Fn() + Copy + Send + Sync + 'static, agent: Option<String>) -> impl IntoView {
    let catalog = LocalResource::new(api::catalog);
    view! {
        <div data-testid="start-run-dialog">
                <h2 id="start-run-title">"Start a run"</h2>
                {move || match catalog.get() {
                    None => view! { <Loading text="Asking the agents what they serve…" /> }.into_any(),
                    Some(Err(error)) => view! { <p class="error-box" role="alert">{error.message}</p> }.into_any(),
                    Some(Ok(entries)) if entries.is_empty() => view! {
                        <p data-testid="no-agents">"No alive agent serves a workflow. Start one with "
                            <code>"configurable-agents demo-agent"</code>
                            ", or run the dashboard with " <code>"--demo"</code> "."</p>
                        <div class="dialog-actions"><button class="secondary" on:click=move |_| close()>"Close"</button></div>
                    }.into_any(),
                    Some(Ok(entries)) => {
                        // For one agent: the workflows it serves, sent to it.
                        let entries: Vec<CatalogEntry> = entries.into_iter()
                            .filter(|e| agent.as_ref().is_none_or(|id| e.agents.iter().any(|a| &a.agent_id == id)))
                            .collect();
                        match entries.is_empty() {
                            true => view! { <p class="error-box" role="alert">"This agent serves no workflow right now."</p> }.into_any(),
                            false => view! { <Fields entries close agent=agent.clone().unwrap_or_default() /> }.into_any(),
                        }
                    }
                }}
        </div>
    }
}

#[component]
fn Fields(entries: Vec<CatalogEntry>, close: impl Fn() + Copy + Send + Sync + 'static, agent: String) -> impl IntoView {
    let entries = StoredValue::new(entries);
    let chosen = RwSignal::new(0usize);
    let entry = move || entries.with_value(|all| all[chosen.get()].clone());
    let fixed = StoredValue::new(agent.clone());
    let agent = RwSignal::new(agent);
    let text = RwSignal::new(template(&entries.with_value(|all| all[0].clone())));
    let checked = Memo::new(move |_| text.with(|t| check_inputs(t, entry().inputs.as_ref())));
    let refused = RwSignal::new(None::<String>);
    let notices = use_notices();
    let navigate = use_navigate();
    let start = Action::new_local(move |start: &StartRun| {
        let (start, navigate) = (start.clone(), navigate.clone());
        async move {
            match api::start_run(&start).await {
                Ok(run) => {
                    notices.say(
                        Tone::Success,
                        format!("Started run {} of {}.", format::short_id(&run.id), run.workflow_name),
                    );
                    close();
                    navigate(&api::pages::workflow(&run.id), NavigateOptions::default());
                }
                Err(error) => refused.set(Some(error.message)),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(inputs) = checked.get_untracked() else { return };
        start.dispatch(StartRun {
            workflow_name: entry().workflow_name,
            inputs: Some(inputs),
            agent_id: Some(agent.get_untracked()).filter(|a| !a.is_empty()),
        });
    };
    let busy = start.pending();
    view! {
        <form class="start-run" on:submit=submit>
            <label>"Workflow"
                <select data-testid="start-workflow" on:change=move |ev| {
                    let index = event_target_value(&ev).parse().unwrap_or(0);
                    chosen.set(index);
                    // From an agent's page the run stays on that agent.
                    agent.set(fixed.get_value());
                    text.set(template(&entry()));
                    refused.set(None);
                }>
                    {entries.with_value(|all| all.iter().enumerate().map(|(i, e)| view! {
                        <option value=i.to_string()>{e.workflow_name.clone()}</option>
                    }).collect_view())}
                </select>
            </label>
            {move || entry().description.map(|d| view! { <p class="muted">{d}</p> })}
            <label>"Agent"
                <select data-testid="start-agent" prop:value=move || agent.get() on:change=move |ev| agent.set(event_target_value(&ev))>
                    {move || {
                        let agents = entry().agents;
                        let any = match agents.len() {
                            1 => "The only alive agent".to_owned(),
                            n => format!("The least busy of {n} alive agents"),
                        };
                        view! {
                            <option value="">{any}</option>
                            {agents.into_iter().map(|a| { let label = a.agent_id.clone(); view! { <option value=a.agent_id>{label}</option> } }).collect_view()}
                        }
                    }}
                </select>
            </label>
            <label>"Inputs (JSON)"
                <textarea data-testid="start-inputs" rows="6" spellcheck="false" class="mono"
                    aria-invalid=move || checked.with(Result::is_err).to_string()
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); refused.set(None); }></textarea>
            </label>
            <p class="field-note" data-testid="start-check" aria-live="polite">{move || match checked.get() {
                Ok(_) => view! { <span class="ok">"✓ Inputs look right."</span> }.into_any(),
                Err(problem) => view! { <span class="bad">{problem}</span> }.into_any(),
            }}</p>
            {move || refused.get().map(|message| view! { <p class="error-box" role="alert">{message}</p> })}
            <div class="dialog-actions">
                <button type="button" class="secondary" on:click=move |_| close()>"Cancel"</button>
                <button type="submit" data-testid="start-submit" disabled=move || busy.get() || checked.with(Result::is_err)>
                    "Start"
                </button>
            </div>
        </form>
    }
}

/// The inputs to start from: each field the schema names, required ones first, with
/// its default or an empty value of its type.
fn template(entry: &CatalogEntry) -> String {
    let Some(fields) = &entry.inputs else { return "{}".to_owned() };
    let mut names: Vec<(&String, &Value)> = fields.iter().collect();
    names.sort_by_key(|(_, field)| !required(field));
    // Written out by hand: a JSON map would sort the keys and lose that order.
    let lines: Vec<String> = names
        .into_iter()
        .map(|(name, field)| {
            let value = field.get("default").cloned().unwrap_or_else(|| {
                match field.get("type").and_then(Value::as_str).unwrap_or("str") {
                    "int" | "integer" | "float" | "number" => Value::from(0),
                    "bool" | "boolean" => Value::Bool(false),
                    "list" | "array" => Value::Array(Vec::new()),
                    "dict" | "object" => Value::Object(Map::new()),
                    _ => Value::String(String::new()),
                }
            });
            format!("  {}: {value}", Value::String(name.clone()))
        })
        .collect();
    if lines.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{\n{}\n}}", lines.join(",\n"))
    }
}

fn required(field: &Value) -> bool {
    field.get("required").and_then(Value::as_bool).unwrap_or(false)
}

/// The inputs, if they are a JSON object that gives every required field a value.
fn check_inputs(text: &str, fields: Option<&Map<String, Value>>) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("Not valid JSON: {e}"))?;
    let Value::Object(inputs) = &value else { return Err("Inputs must be a JSON object of fields.".to_owned()) };
    let missing: Vec<&str> = fields
        .into_iter()
        .flatten()
        .filter(|(name, field)| {
            required(field)
                && inputs.get(*name).is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!("Required: {}.", missing.join(", ")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(inputs: Value) -> CatalogEntry {
        CatalogEntry {
            workflow_name: "w".into(),
            agents: Vec::new(),
            description: None,
            inputs: inputs.as_object().cloned(),
        }
    }

    #[test]
    fn templates_list_required_fields_first_with_defaults() {
        let e = entry(
            json!({ "tone": { "default": "calm" }, "topic": { "type": "str", "required": true }, "n": { "type": "int" } }),
        );
        let text = template(&e);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({ "topic": "", "tone": "calm", "n": 0 }));
        assert!(text.find("topic") < text.find("tone"), "{text}");
        assert_eq!(template(&entry(Value::Null)), "{}");
    }

    #[test]
    fn inputs_are_checked_against_required_fields() {
        let fields = json!({ "topic": { "required": true }, "tone": {} });
        let fields = fields.as_object();
        assert!(check_inputs("{\"topic\": \"x\"}", fields).is_ok());
        assert_eq!(check_inputs("{\"topic\": \" \"}", fields).unwrap_err(), "Required: topic.");
        assert!(check_inputs("[1]", fields).unwrap_err().contains("JSON object"));
        assert!(check_inputs("{", fields).unwrap_err().starts_with("Not valid JSON"));
        assert!(check_inputs("{}", None).is_ok());
    }
}
