//! Budgets: where each stands, a warning at 80 %, and a form for operators.

use leptos::prelude::*;
use shared::{Budget, BudgetLimits, BudgetState, Permission};

use crate::components::{confirmed, use_notices, Empty, Tone};
use crate::{api, can, format, merge};

/// Budgets at 80 % or more, above everything else.
#[component]
pub fn BudgetWarnings(budgets: Vec<Budget>) -> impl IntoView {
    budgets
        .into_iter()
        .filter(|b| b.state != BudgetState::Ok)
        .map(|b| {
            let exceeded = b.state == BudgetState::Exceeded;
            view! {
                <p class=if exceeded { "banner bad" } else { "banner warn" } role="status" data-testid="budget-warning">
                    <strong>{b.workflow_name.clone()}</strong>
                    {if exceeded { " is at its budget: new runs are refused. " } else { " has used 80 % or more of its budget. " }}
                    {format!("Today {} · this month {}", format::cost(Some(b.spent_today_usd)), format::cost(Some(b.spent_month_usd)))}
                </p>
            }
        })
        .collect_view()
}

/// The form's fields: the API's name and what a person calls it.
const LABELS: [(&str, &str); 4] = [
    ("daily_usd", "Daily budget"),
    ("monthly_usd", "Monthly budget"),
    ("run_max_usd", "Budget per run"),
    ("run_max_tokens", "Token cap per run"),
];

/// A cap as typed: `None` when empty, else a positive number, or a sentence saying
/// what is wrong. (Read as JSON: the app already carries serde_json's number parser.)
fn positive(text: &str) -> Result<Option<f64>, ()> {
    let text = text.trim().trim_start_matches('$').trim();
    match text.is_empty() {
        true => Ok(None),
        false => serde_json::from_str::<f64>(text).ok().filter(|v| *v > 0.0).map(Some).ok_or(()),
    }
}

fn dollars(label: &str, text: &str) -> Result<Option<f64>, String> {
    positive(text).map_err(|()| format!("{label} must be a positive amount in dollars, like 2.50"))
}

fn whole(label: &str, text: &str) -> Result<Option<i64>, String> {
    match positive(text) {
        Ok(Some(v)) if v.fract() == 0.0 && v < 9e15 => Ok(Some(v as i64)),
        Ok(None) => Ok(None),
        _ => Err(format!("{label} must be a positive whole number of tokens")),
    }
}

/// The server's message with its field names in the form's words.
fn in_words(message: String) -> String {
    LABELS.iter().fold(message, |text, (field, label)| text.replace(&format!("`{field}`"), label))
}

/// Who reported today's spend: the largest three, all of them on hover.
fn reporters(budget: &Budget) -> impl IntoView {
    let line = |r: &shared::BudgetReporter| {
        let runs = if r.runs == 1 { "1 run".to_owned() } else { format!("{} runs", r.runs) };
        format!("{} {} ({runs})", r.reporter, format::cost(Some(r.cost_usd)))
    };
    let all: Vec<String> = budget.reporters_today.iter().map(line).collect();
    let shown = match all.len() {
        0 => "—".to_owned(),
        1..=3 => all.join(" · "),
        n => format!("{} · {} more", all[..3].join(" · "), n - 3),
    };
    view! { <span title=all.join("\n")>{shown}</span> }
}

#[component]
pub fn Budgets(budgets: Vec<Budget>, reload: merge::Reload) -> impl IntoView {
    let notices = use_notices();
    let operate = can(Permission::Operate);
    let fields: [RwSignal<String>; 5] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let [workflow, daily, monthly, run_usd, run_tokens] = fields;
    let save = Action::new_local(move |_: &()| async move {
        let name = workflow.get_untracked().trim().to_owned();
        let [daily_label, monthly_label, run_label, tokens_label] = LABELS.map(|(_, label)| label);
        let limits = (|| {
            if name.is_empty() {
                return Err("Name the workflow the budget is for".to_owned());
            }
            let limits = BudgetLimits {
                daily_usd: dollars(daily_label, &daily.get_untracked())?,
                monthly_usd: dollars(monthly_label, &monthly.get_untracked())?,
                run_max_usd: dollars(run_label, &run_usd.get_untracked())?,
                run_max_tokens: whole(tokens_label, &run_tokens.get_untracked())?,
            };
            match limits == BudgetLimits::default() {
                true => Err("Set at least one cap: a daily, monthly or per-run budget, or a token cap".to_owned()),
                false => Ok(limits),
            }
        })();
        let result = match limits {
            Ok(limits) => api::set_budget(&name, &limits).await.map_err(|e| in_words(e.message)),
            Err(message) => Err(message),
        };
        match result {
            Ok(_) => {
                notices.say(Tone::Success, format!("Budget of {name} saved"));
                reload.run();
            }
            Err(message) => notices.say(Tone::Error, format!("Could not save the budget: {message}")),
        }
    });
    let remove = Action::new_local(move |name: &String| {
        let name = name.clone();
        async move {
            match api::delete_budget(&name).await {
                Ok(()) => reload.run(),
                Err(error) => notices.say(Tone::Error, format!("Could not remove the budget: {error}")),
            }
        }
    });
    let edit = move |b: &Budget| {
        let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        workflow.set(b.workflow_name.clone());
        daily.set(text(b.limits.daily_usd));
        monthly.set(text(b.limits.monthly_usd));
        run_usd.set(text(b.limits.run_max_usd));
        run_tokens.set(b.limits.run_max_tokens.map(|v| v.to_string()).unwrap_or_default());
    };
    let cap = |v: Option<f64>| v.map_or("—".to_owned(), |v| format::cost(Some(v)));
    view! {
        <section class="panel" aria-labelledby="budgets">
            <h2 id="budgets">"Budgets"</h2>
            <p class="muted small">"A run over its cap, or a workflow over its daily or monthly cap, is cancelled at its next node report; a workflow at its cap starts no new run. Days and months are UTC."</p>
            {if budgets.is_empty() {
                view! { <Empty text="No budgets yet." /> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table class="stack" data-testid="budgets">
                        <thead><tr><th>"Workflow"</th><th class="num">"Today"</th><th>"Reported today by"</th><th class="num">"Per day"</th><th class="num">"This month"</th>
                            <th class="num">"Per month"</th><th class="num">"Per run"</th><th class="num">"Tokens / run"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {budgets.into_iter().map(|b| {
                                let (name, shown) = (b.workflow_name.clone(), b.clone());
                                let state = match b.state { BudgetState::Ok => "ok", BudgetState::Warning => "warning", BudgetState::Exceeded => "exceeded" };
                                view! {
                                    <tr>
                                        <td data-label="Workflow"><a href=api::pages::runs_of(&b.workflow_name)>{b.workflow_name.clone()}</a></td>
                                        <td class="num" data-label="Today">{format::cost(Some(b.spent_today_usd))}</td>
                                        <td class="small" data-label="Reported today by" data-testid="budget-reporters">{reporters(&b)}</td>
                                        <td class="num" data-label="Per day">{cap(b.limits.daily_usd)}</td>
                                        <td class="num" data-label="This month">{format::cost(Some(b.spent_month_usd))}</td>
                                        <td class="num" data-label="Per month">{cap(b.limits.monthly_usd)}</td>
                                        <td class="num" data-label="Per run">{cap(b.limits.run_max_usd)}</td>
                                        <td class="num" data-label="Tokens / run">{format::tokens(b.limits.run_max_tokens)}</td>
                                        <td data-label="State"><span class=format!("badge budget-{state}")>{state}</span></td>
                                        <td class="row-actions">{operate.then(|| view! {
                                            <button class="small secondary" on:click=move |_| edit(&shown)>"Edit"</button>
                                            <button class="small danger" on:click=move |_| {
                                                if confirmed(&format!("Remove the budget of {name}?")) { remove.dispatch(name.clone()); }
                                            }>"Remove"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            {operate.then(|| view! {
                <form class="filters budget-form" data-testid="budget-form" on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                    <label class="grow">"Workflow"<input required bind:value=workflow placeholder="exact name" /></label>
                    <label>"Per day ($)"<input inputmode="decimal" bind:value=daily /></label>
                    <label>"Per month ($)"<input inputmode="decimal" bind:value=monthly /></label>
                    <label>"Per run ($)"<input inputmode="decimal" bind:value=run_usd /></label>
                    <label>"Tokens per run"<input inputmode="numeric" bind:value=run_tokens /></label>
                    <button type="submit" disabled=save.pending()>"Save budget"</button>
                </form>
            })}
        </section>
    }
}
