//! Which nodes of a run are at work. A runner reports a node's state when the node ends,
//! but its log lines name the node while it works: a node that logged and has not
//! reported is at work (in a run that ended, it was stopped at work), since its first
//! line. Lines after a report are its epilogue ("done in 2 s", its error), not new work.

use chrono::{DateTime, Utc};
use shared::{LogLine, NodeState};

/// A node at work: its id and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct Working {
    pub node_id: String,
    pub since: DateTime<Utc>,
}

/// The nodes at work, in the order they began.
pub fn working(states: &[NodeState], lines: &[LogLine]) -> Vec<Working> {
    let mut working: Vec<Working> = Vec::new();
    for line in lines {
        let Some(node) = line.node_id.as_deref() else { continue };
        if states.iter().any(|s| s.node_id == node) || working.iter().any(|w| w.node_id == node) {
            continue;
        }
        working.push(Working { node_id: node.to_owned(), since: line.ts });
    }
    working
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use shared::{LogLevel, NodeStateData};

    fn line(node: &str, at: DateTime<Utc>) -> LogLine {
        LogLine {
            id: 0,
            run_id: "r".into(),
            ts: at,
            level: LogLevel::Info,
            node_id: Some(node.into()),
            message: "m".into(),
        }
    }

    fn reported(node: &str, at: DateTime<Utc>) -> NodeState {
        NodeState {
            id: 0,
            run_id: "r".into(),
            node_id: node.into(),
            created_at: at,
            state_data: NodeStateData { node_id: node.into(), ..Default::default() },
        }
    }

    #[test]
    fn a_node_is_at_work_from_its_first_line_until_its_report() {
        let t0 = Utc::now();
        let at = |s: i64| t0 + Duration::seconds(s);
        let lines = [line("research", at(0)), line("research", at(2)), line("write", at(5)), line("write", at(6))];
        assert_eq!(
            working(&[], &lines),
            [Working { node_id: "research".into(), since: at(0) }, Working { node_id: "write".into(), since: at(5) }]
        );
        let done = [reported("research", at(4))];
        assert_eq!(working(&done, &lines), [Working { node_id: "write".into(), since: at(5) }]);
        // What a node logs after its report ("done in 2 s", its error) is no new work.
        let epilogue = [line("research", at(0)), line("research", at(5))];
        assert!(working(&done, &epilogue).is_empty());
    }
}
