//! `configurable-agents token create|list|revoke`: tokens managed in the database
//! directly, for the first admin of a team's dashboard and for scripts. What is
//! printed is for people; the secret is printed once and never logged.

use shared::{CreateToken, Role};

use crate::callers;
use crate::config::TokenCommand;
use crate::events::EventBus;
use crate::store::access::{Actor, Audit};

pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    let url = match &command {
        TokenCommand::Create(args) => &args.database.database_url,
        TokenCommand::List(args) => &args.database_url,
        TokenCommand::Revoke(args) => &args.database.database_url,
    };
    let store = crate::store::connect(url, EventBus::default()).await?;
    // Made from the machine's command line: the audit log says so.
    let by = Actor { name: "command line".to_owned(), token_id: None };
    match command {
        TokenCommand::Create(args) => {
            let name = args.name.unwrap_or_else(|| format!("{}-{}", args.role, &callers::random_value()[..6]));
            let request = CreateToken {
                name,
                role: args.role,
                agent_ids: args.agent_ids,
                workflows: args.workflows,
                expires_in_days: args.expires_in_days,
            };
            let created = callers::issue(store.as_ref(), request, &by).await?;
            println!(
                "Token `{}` ({}); its secret, shown this once:\n{}",
                created.token.name, created.token.role, created.secret
            );
            if created.token.role == Role::Agent {
                println!(
                    "An agent of the original kind uses it as: registry_url=\"http://agent:{}@HOST:7861/api\"",
                    created.secret
                );
            }
        }
        TokenCommand::List(_) => {
            let tokens = store.list_tokens().await?;
            println!(
                "{:<28} {:<9} {:<20} {:<20} {:<20} agent ids; workflows",
                "name", "role", "created", "last used", "expires"
            );
            let at = |time: Option<chrono::DateTime<chrono::Utc>>| {
                time.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            };
            for token in tokens {
                println!(
                    "{:<28} {:<9} {:<20} {:<20} {:<20} {}; {}",
                    token.name,
                    token.role,
                    at(Some(token.created_at)),
                    at(token.last_used_at),
                    at(token.expires_at),
                    token.agent_ids.join(","),
                    token.workflows.join(",")
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let audit = Audit { actor: by, action: "token.revoke", target: args.name.clone(), detail: None };
            store.revoke_token(&args.name, audit).await?;
            println!("Token `{}` revoked; requests and sessions using it are refused from now on.", args.name);
        }
    }
    Ok(())
}
