//! Where agents may be: the dashboard sends runs (their inputs) to addresses agents
//! registered themselves, so it must never be made to reach a cloud metadata service
//! or anything else outside the networks an operator allows (`--agent-networks`).
//! Names are resolved when a request is made, and only allowed addresses are used,
//! so a name that changes to point elsewhere after registering gains nothing.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AgentNetworks {
    allowed: Arc<Vec<IpNet>>,
}

impl AgentNetworks {
    pub fn new(allowed: Vec<IpNet>) -> AgentNetworks {
        AgentNetworks { allowed: Arc::new(allowed) }
    }

    /// Link-local (cloud metadata lives there), multicast, unspecified and broadcast
    /// addresses are refused whatever the flag says.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let never = match ip {
            IpAddr::V4(v4) => {
                v4.is_link_local() || v4.is_multicast() || v4.is_unspecified() || v4 == Ipv4Addr::BROADCAST
            }
            IpAddr::V6(v6) => v6.is_unicast_link_local() || v6.is_multicast() || v6.is_unspecified(),
        };
        !never && self.allowed.iter().any(|network| network.contains(&ip))
    }

    /// The allowed addresses `host` resolves to (itself, for an address), or why none.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((bare, 0))
                .await
                .map_err(|error| format!("`{host}` cannot be resolved ({error})"))?
                .map(|address| address.ip())
                .collect(),
        };
        let allowed: Vec<IpAddr> = found.iter().copied().filter(|ip| self.allows(*ip)).collect();
        if allowed.is_empty() {
            let shown: Vec<String> = found.iter().map(IpAddr::to_string).collect();
            return Err(format!(
                "`{host}` ({}) is outside the networks agents may be on; allow it with --agent-networks \
                 (link-local, multicast and broadcast addresses are never allowed)",
                shown.join(", ")
            ));
        }
        Ok(allowed)
    }
}

/// reqwest's resolver for agent calls: only allowed addresses are connected to.
impl Resolve for AgentNetworks {
    fn resolve(&self, name: Name) -> Resolving {
        let networks = self.clone();
        Box::pin(async move {
            let allowed = networks.resolve(name.as_str()).await?;
            let addresses: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn networks(list: &[&str]) -> AgentNetworks {
        AgentNetworks::new(list.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn only_allowed_networks_and_never_link_local() {
        let private =
            networks(&["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]);
        for allowed in ["127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.1", "::1", "fd00::1", "::ffff:10.0.0.1"] {
            assert!(private.allows(allowed.parse().unwrap()), "{allowed}");
        }
        for refused in [
            "169.254.169.254",
            "8.8.8.8",
            "172.32.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::",
        ] {
            assert!(!private.allows(refused.parse().unwrap()), "{refused}");
        }
        let everything = networks(&["0.0.0.0/0", "::/0"]);
        assert!(everything.allows("8.8.8.8".parse().unwrap()));
        for never in ["169.254.169.254", "255.255.255.255", "ff02::1", "fe80::1"] {
            assert!(!everything.allows(never.parse().unwrap()), "{never}");
        }
    }
}
