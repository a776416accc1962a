//! Ready-made topologies, shared by the tests, `anyedge demo` and the benchmarks.

use crate::engine::EngineNode;
use crate::host::Host;
use crate::link::LinkParams;
use crate::router::{Router, RouterIface};
use crate::Sim;
use anyedge_node::config::{parse_net, Ipv4Net};
use anyedge_node::{FwdMode, NodeConfig};
use anyedge_wire::Ipv4Addr;

/// The anycast address every node of the site serves.
pub const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

/// Ids of the devices and links of a site.
#[derive(Clone, Debug)]
pub struct Site {
    /// The client host.
    pub client: usize,
    /// The router.
    pub router: usize,
    /// The nodes, in order (edge-a, edge-b, ...).
    pub nodes: Vec<usize>,
    /// Node port addresses, in the same order.
    pub node_ips: Vec<Ipv4Addr>,
    /// Link client-router.
    pub client_link: usize,
    /// Links router-node, in node order.
    pub node_links: Vec<usize>,
}

fn net(s: &str) -> Ipv4Net {
    parse_net(s).expect("static address")
}

/// A client, a router and `n` anyedge nodes in `cdn` mode that all serve
/// [`VIP`]; the router's /32 route for the VIP points at the first node.
/// `client_link` and `node_link` set the two kinds of link.
pub fn site(sim: &mut Sim, n: usize, client_link: LinkParams, node_link: LinkParams) -> Site {
    site_with(sim, n, client_link, node_link, None, "off")
}

/// As [`site`], and every node serves HTTP on port 80 from the cache loaded
/// from `content` when it is given.
pub fn site_with(
    sim: &mut Sim,
    n: usize,
    client_link: LinkParams,
    node_link: LinkParams,
    content: Option<&std::path::Path>,
    resume: &str,
) -> Site {
    site_cfg(
        sim,
        n,
        client_link,
        node_link,
        &vec![content; n],
        resume,
        &[],
    )
}

/// As [`site_with`], with node i serving from `content[i]` (none past the
/// end) and `extra[i]` appended to its configuration (an `[overlay]`
/// section, say).
pub fn site_cfg(
    sim: &mut Sim,
    n: usize,
    client_link: LinkParams,
    node_link: LinkParams,
    content: &[Option<&std::path::Path>],
    resume: &str,
    extra: &[String],
) -> Site {
    let client = sim.add(Host::new(
        "client",
        [2, 0xc1, 0, 0, 0, 2],
        net("10.0.1.2/24"),
        Ipv4Addr::new(10, 0, 1, 1),
    ));
    let mut ifaces = vec![RouterIface {
        mac: [2, 0x70, 0, 0, 0, 1],
        net: net("10.0.1.1/24"),
    }];
    for i in 0..n {
        ifaces.push(RouterIface {
            mac: [2, 0x70, 0, 0, 1, i as u8],
            net: net(&format!("10.0.{}.1/24", 2 + i)),
        });
    }
    let router = sim.add(Router::new("router", ifaces));
    let client_link = sim.connect((client, 0), (router, 0), client_link);
    let mut nodes = Vec::new();
    let mut node_ips = Vec::new();
    let mut node_links = Vec::new();
    for i in 0..n {
        let name = format!("edge-{}", (b'a' + i as u8) as char);
        let ip = Ipv4Addr::new(10, 0, 2 + i as u8, 2);
        let mut text = format!(
            "[node]\nname = \"{name}\"\n[[port]]\nip = \"{ip}/24\"\ngateway = \"10.0.{}.1\"\n[anycast]\nvips = [\"{VIP}\"]\n[services]\ndiscard = 9\necho = 7\nchargen = 19\n[tcp]\nsend_buf = \"16MiB\"\nrecv_buf = \"16MiB\"\n",
                        2 + i
        );
        // The site's peer channel: every other node, one key, one policy.
        let peers: Vec<String> = (0..n)
            .filter(|&j| j != i)
            .map(|j| format!("\"10.0.{}.2:7700\"", 2 + j))
            .collect();
        text = text.replace(
            &format!("vips = [\"{VIP}\"]\n"),
            &format!(
                "vips = [\"{VIP}\"]\npeers = [{}]\nlisten = 7700\nkey = \"site-secret\"\nresume = \"{resume}\"\n",
                peers.join(", ")
            ),
        );
        text += &content
            .get(i)
            .copied()
            .flatten()
            .map(|d| {
                format!(
                    "[http]\nport = 80\n[cache]\ndir = \"{}\"\nsize = \"256MiB\"\n",
                    d.display()
                )
            })
            .unwrap_or_default();
        text += extra.get(i).map_or("", |s| s.as_str());
        let cfg = NodeConfig::parse(&text).expect("static config");
        let node = sim.add(EngineNode::new(cfg, FwdMode::Cdn).expect("node"));
        node_links.push(sim.connect((router, 1 + i), (node, 0), node_link));
        nodes.push(node);
        node_ips.push(ip);
    }
    let first = node_ips[0];
    sim.device::<Router>(router)
        .set_route(net(&format!("{VIP}/32")), 1, Some(first));
    Site {
        client,
        router,
        nodes,
        node_ips,
        client_link,
        node_links,
    }
}

/// Schedules the anycast route change: from `at` on, the VIP is reached through node `to`.
pub fn flip_route(sim: &mut Sim, site: &Site, at: u64, to: usize) {
    let via = site.node_ips[to];
    sim.at::<Router>(at, site.router, move |r, _| {
        r.set_route(net(&format!("{VIP}/32")), 1 + to, Some(via));
    });
}
