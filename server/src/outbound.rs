//! Where the dashboard may connect: one policy for every outgoing call. It sends runs
//! (their inputs) to addresses agents registered and alerts to URLs admins entered,
//! so it must never be made to reach a cloud metadata service, and reaches loopback
//! and private addresses only where an operator allowed them (`--agent-networks`,
//! `--webhook-networks`). Names are resolved when a request is made and only allowed
//! addresses are connected to, so a name that changes to point elsewhere gains
//! nothing; addresses written in URLs are checked the same way; redirects are never
//! followed.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Outbound {
    /// Networks allowed besides (for webhooks) the public internet.
    allowed: Arc<Vec<IpNet>>,
    /// Whether public addresses are allowed without being listed.
    public: bool,
    /// The flag that allows more, for messages.
    flag: &'static str,
}

/// What an address is, as far as connecting to it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Link-local (cloud metadata lives there), metadata, multicast, broadcast,
    /// unspecified, reserved and tunnel addresses: never connected to.
    Never,
    /// Loopback, private, shared and documentation ranges: only when allowed.
    Local,
    Public,
}

impl Outbound {
    /// Agents: only the networks listed (by default loopback and the private ranges).
    pub fn agents(networks: Vec<IpNet>) -> Outbound {
        Outbound { allowed: Arc::new(networks), public: false, flag: "--agent-networks" }
    }

    /// Webhooks: public addresses, and local ones only where listed.
    pub fn webhooks(networks: Vec<IpNet>) -> Outbound {
        Outbound { allowed: Arc::new(networks), public: true, flag: "--webhook-networks" }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let listed = || self.allowed.iter().any(|network| network.contains(&ip.to_canonical()));
        match reach(ip) {
            Reach::Never => false,
            Reach::Local => listed(),
            Reach::Public => self.public || listed(),
        }
    }

    fn refusal(&self, what: &str) -> String {
        let allowed = if self.public { "public addresses and " } else { "" };
        format!(
            "{what} is not an address the dashboard connects to: it connects to {allowed}the networks \
             {} allows (never link-local, metadata, multicast or broadcast addresses)",
            self.flag
        )
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
            return Err(self.refusal(&format!("`{host}` ({})", shown.join(", "))));
        }
        Ok(allowed)
    }

    /// `text` as a URL, refused when it names an address outside the policy (a name
    /// is checked by the resolver, when connecting).
    pub fn url(&self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text).map_err(|e| format!("unusable address {text}: {e}"))?;
        let ip: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        match ip {
            Some(ip) if !self.allows(ip) => Err(self.refusal(&ip.to_string())),
            _ => Ok(url),
        }
    }

    /// A client under this policy: names resolved to allowed addresses only, no
    /// redirects followed, and no proxy from the environment (`HTTP_PROXY` and the
    /// like), which would resolve names itself and so reach anything.
    pub fn client(&self, builder: reqwest::ClientBuilder) -> reqwest::Result<reqwest::Client> {
        builder.no_proxy().redirect(reqwest::redirect::Policy::none()).dns_resolver(Arc::new(self.clone())).build()
    }
}

/// reqwest's resolver: only allowed addresses are connected to.
impl Resolve for Outbound {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.clone();
        Box::pin(async move {
            let allowed = policy.resolve(name.as_str()).await?;
            let addresses: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addresses)
        })
    }
}

fn reach(ip: IpAddr) -> Reach {
    match ip.to_canonical() {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    let never = ip.is_unspecified()
        || a == 0
        || ip.is_link_local()
        || ip.is_multicast()
        || a >= 240
        // Alibaba Cloud's metadata service, in the shared range below.
        || ip == Ipv4Addr::new(100, 100, 100, 200);
    let local = ip.is_loopback()
        || ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || ip.is_documentation();
    match (never, local) {
        (true, _) => Reach::Never,
        (false, true) => Reach::Local,
        (false, false) => Reach::Public,
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    let segments = ip.segments();
    // An IPv4 address carried inside (NAT64, 6to4, the old compatible form) is
    // reached through it: it counts as that address, at least.
    let embedded = match segments {
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] | [0, 0, 0, 0, 0, 0, high, low] if ip.segments()[6..] != [0, 1] => {
            Some(v4(high, low))
        }
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => None,
    };
    let never = ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unicast_link_local()
        || (segments[0] & 0xffc0) == 0xfec0
        // Teredo tunnels and local-use NAT64 to anywhere; the discard prefix; AWS's
        // metadata service.
        || (segments[0] == 0x2001 && segments[1] == 0)
        || segments[..3] == [0x64, 0xff9b, 1]
        || segments[..4] == [0x100, 0, 0, 0]
        || ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    let local = ip.is_loopback() || ip.is_unique_local() || (segments[0] == 0x2001 && segments[1] == 0xdb8);
    match (never, embedded.map(reach_v4), local) {
        (true, _, _) | (_, Some(Reach::Never), _) => Reach::Never,
        (_, Some(Reach::Local), _) | (_, _, true) => Reach::Local,
        _ => Reach::Public,
    }
}

fn v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    const PRIVATE: [&str; 6] = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

    #[test]
    fn agents_only_on_listed_networks_and_never_link_local() {
        let private = Outbound::agents(parse(&PRIVATE));
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
        let everything = Outbound::agents(parse(&["0.0.0.0/0", "::/0"]));
        assert!(everything.allows("8.8.8.8".parse().unwrap()));
        for never in ["169.254.169.254", "255.255.255.255", "ff02::1", "fe80::1", "fd00:ec2::254", "0.1.2.3"] {
            assert!(!everything.allows(never.parse().unwrap()), "{never}");
        }
    }

    #[test]
    fn webhooks_go_public_and_local_only_where_allowed() {
        let default = Outbound::webhooks(Vec::new());
        for public in ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(default.allows(public.parse().unwrap()), "{public}");
        }
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "2002:7f00:1::",
            "::7f00:1",
            "0.0.0.0",
            "100.100.100.200",
            "2001:0:4136:e378::1",
            "fd00:ec2::254",
            "64:ff9b:1::a9fe:a9fe",
        ] {
            assert!(!default.allows(refused.parse().unwrap()), "{refused}");
        }
        let lab = Outbound::webhooks(parse(&["127.0.0.0/8", "10.0.0.0/8"]));
        assert!(lab.allows("127.0.0.1".parse().unwrap()) && lab.allows("::ffff:10.1.1.1".parse().unwrap()));
        assert!(!lab.allows("169.254.169.254".parse().unwrap()) && !lab.allows("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn addresses_in_urls_are_checked_too() {
        let policy = Outbound::webhooks(Vec::new());
        assert!(policy.url("http://169.254.169.254/latest/meta-data/").is_err());
        assert!(policy.url("http://[::ffff:169.254.169.254]/").is_err());
        assert!(policy.url("http://0.0.0.0:7861/api/workflows").is_err());
        assert!(policy.url("http://127.1/").is_err(), "the URL parser reads short forms as addresses");
        assert!(policy.url("https://hooks.example.com/x").is_ok(), "names are checked when resolved");
        assert!(policy.url("http://8.8.8.8/").is_ok());
    }
}
