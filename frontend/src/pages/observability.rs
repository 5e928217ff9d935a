//! The MLflow page. `/mlflow/` itself is the server's reverse proxy; this page explains
//! how to connect MLflow until the proxy is configured.

use leptos::prelude::*;

#[component]
pub fn Observability() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"MLflow"</h1>
            <div class="panel explain" data-testid="mlflow-setup">
                <h2>"MLflow is not connected"</h2>
                <p>
                    "Workflow traces, prompts and token metrics are recorded by MLflow. The dashboard shows the MLflow UI "
                    "here, served from its own address, once it knows where your tracking server runs."
                </p>
                <ol>
                    <li>"Start MLflow, for example: " <code>"mlflow server --host 127.0.0.1 --port 5000"</code></li>
                    <li>"Start the dashboard with " <code>"--mlflow-uri http://127.0.0.1:5000"</code> " (or the " <code>"MLFLOW_TRACKING_URI"</code> " environment variable)."</li>
                </ol>
                <p class="muted">"The embedded view needs the dashboard's MLflow proxy at /mlflow/, which this build does not include yet."</p>
            </div>
        </section>
    }
}
