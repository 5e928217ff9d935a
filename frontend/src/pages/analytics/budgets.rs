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

/// A number field's value: `None` when empty, an error when not a number. (Read as
/// JSON: the app already carries serde_json's number parser, not core's.)
fn parsed<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|_| format!("{field} must be a number"))
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
        let limits = (|| {
            Ok::<_, String>(BudgetLimits {
                daily_usd: parsed("Per day", &daily.get_untracked())?,
                monthly_usd: parsed("Per month", &monthly.get_untracked())?,
                run_max_usd: parsed("Per run", &run_usd.get_untracked())?,
                run_max_tokens: parsed("Tokens per run", &run_tokens.get_untracked())?,
            })
        })();
        let name = workflow.get_untracked().trim().to_owned();
        let result = match limits {
            Ok(limits) => api::set_budget(&name, &limits).await.map_err(|e| e.message),
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
                    <div class="table-wrap"><table data-testid="budgets">
                        <thead><tr><th>"Workflow"</th><th class="num">"Today"</th><th>"Reported today by"</th><th class="num">"Per day"</th><th class="num">"This month"</th>
                            <th class="num">"Per month"</th><th class="num">"Per run"</th><th class="num">"Tokens / run"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {budgets.into_iter().map(|b| {
                                let (name, shown) = (b.workflow_name.clone(), b.clone());
                                let state = match b.state { BudgetState::Ok => "ok", BudgetState::Warning => "warning", BudgetState::Exceeded => "exceeded" };
                                view! {
                                    <tr>
                                        <td><a href=api::pages::runs_of(&b.workflow_name)>{b.workflow_name.clone()}</a></td>
                                        <td class="num">{format::cost(Some(b.spent_today_usd))}</td>
                                        <td class="small" data-testid="budget-reporters">{reporters(&b)}</td>
                                        <td class="num">{cap(b.limits.daily_usd)}</td>
                                        <td class="num">{format::cost(Some(b.spent_month_usd))}</td>
                                        <td class="num">{cap(b.limits.monthly_usd)}</td>
                                        <td class="num">{cap(b.limits.run_max_usd)}</td>
                                        <td class="num">{format::tokens(b.limits.run_max_tokens)}</td>
                                        <td><span class=format!("badge budget-{state}")>{state}</span></td>
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
