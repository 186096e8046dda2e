using AnnexEdge.Configuration;

namespace AnnexEdge.Peering;

/// <summary>A node of this edge as routing sees it: reached directly at its configured Cost while live; a node of those clusters (UUIDs).</summary>
internal sealed record LocalNode(string Uuid, double Cost, bool Live, IReadOnlyList<string>? Clusters = null);

/// <summary>
/// One destination a gateway advertises: the node's UUID, its cost to it, the gateway hops on its way, and the UUIDs of
/// the clusters it is a node of (so a gateway of the same cluster can count it among the cluster's nodes).
/// </summary>
internal sealed record Advertisement(string Uuid, double Cost, int Hops, IReadOnlyList<string>? Clusters = null);

/// <summary>
/// A peer as routing sees it: its link cost, and for a git-annex gateway the nodes it reaches (it advertises nothing)
/// and the UUIDs of the clusters they are nodes of.
/// </summary>
internal sealed record PeerLink(string Name, string Uuid, double LinkCost, IReadOnlyList<string>? Nodes = null, IReadOnlyList<string>? Clusters = null);

/// <summary>
/// The way to one destination: directly (<see cref="Via"/> null) or through a peer, with the hops and cost of the
/// whole path and since when it is so. A withdrawn route stays listed, with why, for <c>MaxRouteAge</c>.
/// </summary>
internal sealed record Route(string Destination, string? Via, string? ViaUuid, int Hops, double Cost, DateTimeOffset Since, string? Withdrawn = null)
{
    public bool IsLive => Withdrawn is null;

    /// <summary>UUIDs of the clusters the destination is a node of.</summary>
    public IReadOnlyList<string> Clusters { get; init; } = [];

    /// <summary>Same path, hops and cost (the time and withdrawal aside).</summary>
    public bool SamePath(Route other) =>
        Via == other.Via && Hops == other.Hops && Cost.Equals(other.Cost) && IsLive == other.IsLive;
}

/// <summary>A change of the best route to a destination: new (<see cref="Before"/> null), changed, or withdrawn.</summary>
internal sealed record RouteChange(string Destination, Route? Before, Route After);

/// <summary>
/// Distance-vector routing over this edge's nodes and its peers' advertisements. Each destination's candidates are
/// the live local node (hops 0, its Cost) and every up peer's advertisement of it (hops + 1, cost + LinkCost); one
/// over <c>MaxHops</c> is dropped, which bounds count-to-infinity after a withdrawal. The best is the lowest cost,
/// then the fewest hops, then the next hop's name (direct first), so every edge with the same inputs picks alike.
/// A peer's link is down after <c>LinkFailures</c> failed fetches in a row or when its last advertisement is older than
/// <c>MaxRouteAge</c>; a git-annex gateway peer, which advertises nothing, reaches its configured nodes unless its
/// last <c>LinkFailures</c> probes failed.
/// Thread-safe; the state only changes through <see cref="Recompute"/>, <see cref="Advertised"/>, <see cref="Reached"/>
/// and <see cref="FetchFailed"/>.
/// </summary>
internal sealed class RouteTable
{
    private readonly object _gate = new();
    private readonly RoutingOptions _options;
    private readonly TimeProvider _time;
    private Dictionary<string, PeerState> _peers;
    private Dictionary<string, Route[]> _candidates = new(StringComparer.Ordinal);
    private Dictionary<string, Route> _routes = new(StringComparer.Ordinal);

    public RouteTable(IEnumerable<PeerLink> peers, RoutingOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _peers = peers.ToDictionary(p => p.Name, p => new PeerState(p), StringComparer.Ordinal);
    }

    /// <summary>Every destination's best route, withdrawn ones included, by destination.</summary>
    public IReadOnlyList<Route> Routes
    {
        get
        {
            lock (_gate)
            {
                return _routes.Values.OrderBy(r => r.Destination, StringComparer.Ordinal).ToArray();
            }
        }
    }

    /// <summary>What routing knows of each peer: whether its link is up, failed fetches in a row, when it last advertised.</summary>
    public IReadOnlyList<(PeerLink Peer, bool Up, int Failures, DateTimeOffset? LastAdvertised)> PeerStates
    {
        get
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                return _peers.Values.Select(p => (p.Link, IsUp(p, now), p.Failures, p.LastAdvertised)).ToArray();
            }
        }
    }

    /// <summary>
    /// The peers after a reload: a peer kept by name (with the same UUID) keeps its last advertisement and failures under
    /// its new link cost, nodes and clusters; a new one starts with none; a removed one is gone. The routes follow at
    /// the next <see cref="Recompute"/>.
    /// </summary>
    public void Configure(IEnumerable<PeerLink> peers)
    {
        lock (_gate)
        {
            var next = new Dictionary<string, PeerState>(StringComparer.Ordinal);
            foreach (var link in peers)
            {
                var state = new PeerState(link);
                if (_peers.TryGetValue(link.Name, out var was) && was.Link.Uuid == link.Uuid)
                {
                    (state.Routes, state.Failures, state.LastAdvertised) = (was.Routes, was.Failures, was.LastAdvertised);
                }

                next[link.Name] = state;
            }

            _peers = next;
        }
    }

    /// <summary>A peer's routes were fetched: they replace its previous advertisement, and its link is up.</summary>
    public void Advertised(string peer, IReadOnlyList<Advertisement> routes)
    {
        lock (_gate)
        {
            // A peer removed by a reload while its routes were being fetched: nothing to keep.
            if (_peers.TryGetValue(peer, out var state))
            {
                state.Routes = routes;
                state.Failures = 0;
                state.LastAdvertised = _time.GetUtcNow();
            }
        }
    }

    /// <summary>A git-annex gateway peer answered its probe: its link is up.</summary>
    public void Reached(string peer)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(peer, out var state))
            {
                state.Failures = 0;
            }
        }
    }

    /// <summary>A fetch of a peer's routes (or a git-annex gateway's probe) failed; after <c>LinkFailures</c> in a row its link is down.</summary>
    public void FetchFailed(string peer)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(peer, out var state))
            {
                state.Failures++;
            }
        }
    }

    /// <summary>Computes every destination's best route anew from the local nodes and the peers' last advertisements.</summary>
    public IReadOnlyList<RouteChange> Recompute(IReadOnlyList<LocalNode> local)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var candidates = new Dictionary<string, List<Route>>(StringComparer.Ordinal);
            foreach (var node in local.Where(n => n.Live))
            {
                Add(candidates, new Route(node.Uuid, null, null, 0, node.Cost, now) { Clusters = node.Clusters ?? [] });
            }

            foreach (var peer in _peers.Values.Where(p => IsUp(p, now)))
            {
                foreach (var advertised in Advertisement(peer))
                {
                    var hops = advertised.Hops + 1;
                    if (hops <= _options.MaxHops)
                    {
                        Add(candidates, new Route(advertised.Uuid, peer.Link.Name, peer.Link.Uuid, hops, advertised.Cost + peer.Link.LinkCost, now)
                        {
                            Clusters = advertised.Clusters ?? [],
                        });
                    }
                }
            }

            var changes = new List<RouteChange>();
            var routes = new Dictionary<string, Route>(StringComparer.Ordinal);
            _candidates = candidates.ToDictionary(c => c.Key, c => c.Value.OrderBy(r => r, Preference).ToArray(), StringComparer.Ordinal);
            foreach (var (destination, ordered) in _candidates)
            {
                var best = ordered[0];
                var before = _routes.GetValueOrDefault(destination);
                if (before is not null && before.SamePath(best))
                {
                    // Same path, same age; the clusters the node belongs to are taken as last advertised.
                    routes[destination] = before with { Clusters = best.Clusters };
                }
                else
                {
                    routes[destination] = best;
                    changes.Add(new RouteChange(destination, before, best));
                }
            }

            foreach (var (destination, before) in _routes.Where(r => !routes.ContainsKey(r.Key)))
            {
                if (before.IsLive)
                {
                    var withdrawn = before with { Since = now, Withdrawn = WhyGone(before, local, now) };
                    routes[destination] = withdrawn;
                    changes.Add(new RouteChange(destination, before, withdrawn));
                }
                else if (now - before.Since < _options.MaxRouteAge)
                {
                    routes[destination] = before;
                }
            }

            _routes = routes;
            return changes;
        }
    }

    /// <summary>
    /// The best live route to a destination whose next hop is not a gateway in <paramref name="bypass"/> (those are
    /// already on the request's path: going back to one would loop); null when there is none.
    /// </summary>
    public Route? Best(string destination, IReadOnlyCollection<string> bypass)
    {
        lock (_gate)
        {
            return _candidates.TryGetValue(destination, out var ordered)
                ? ordered.FirstOrDefault(r => r.ViaUuid is null || !bypass.Contains(r.ViaUuid))
                : null;
        }
    }

    /// <summary>
    /// The best route to each destination that is a node of the cluster, reached through a peer not in
    /// <paramref name="bypass"/> (the cluster's nodes at other sites, for the cluster's downloads).
    /// </summary>
    public IReadOnlyList<Route> ThroughPeers(string clusterUuid, IReadOnlyCollection<string> bypass)
    {
        lock (_gate)
        {
            return _candidates.Values
                .Select(ordered => ordered.FirstOrDefault(r => r.ViaUuid is null || !bypass.Contains(r.ViaUuid)))
                .Where(r => r is { ViaUuid: not null } && r.Clusters.Contains(clusterUuid, StringComparer.Ordinal) && !bypass.Contains(r.Destination))
                .Select(r => r!)
                .ToArray();
        }
    }

    /// <summary>
    /// What this edge advertises to a peer: every live best route, except those learned from that very peer (split
    /// horizon: offering a peer its own path back would make a loop the moment the peer loses it).
    /// </summary>
    public IReadOnlyList<Advertisement> AdvertiseTo(string peerUuid)
    {
        lock (_gate)
        {
            return _routes.Values
                .Where(r => r.IsLive && r.ViaUuid != peerUuid)
                .OrderBy(r => r.Destination, StringComparer.Ordinal)
                .Select(r => new Advertisement(r.Destination, r.Cost, r.Hops, r.Clusters.Count == 0 ? null : r.Clusters))
                .ToArray();
        }
    }

    private static void Add(Dictionary<string, List<Route>> candidates, Route route)
    {
        if (!candidates.TryGetValue(route.Destination, out var list))
        {
            candidates[route.Destination] = list = [];
        }

        list.Add(route);
    }

    private static readonly Comparer<Route> Preference = Comparer<Route>.Create((a, b) =>
    {
        var byCost = a.Cost.CompareTo(b.Cost);
        if (byCost != 0)
        {
            return byCost;
        }

        var byHops = a.Hops.CompareTo(b.Hops);
        return byHops != 0 ? byHops : string.CompareOrdinal(a.Via ?? "", b.Via ?? "");
    });

    private static IEnumerable<Advertisement> Advertisement(PeerState peer) =>
        peer.Link.Nodes is { } nodes ? nodes.Select(n => new Advertisement(n, 0, 0, peer.Link.Clusters)) : peer.Routes;

    private bool IsUp(PeerState peer, DateTimeOffset now) =>
        peer.Failures < _options.LinkFailures
        && (peer.Link.Nodes is not null || (peer.LastAdvertised is { } last && now - last <= _options.MaxRouteAge));

    private string WhyGone(Route before, IReadOnlyList<LocalNode> local, DateTimeOffset now)
    {
        if (before.Via is null)
        {
            return local.Any(n => n.Uuid == before.Destination) ? "node down" : "node no longer configured";
        }

        if (!_peers.TryGetValue(before.Via, out var peer))
        {
            return $"peer {before.Via} no longer configured";
        }

        if (!IsUp(peer, now))
        {
            return peer.Failures >= _options.LinkFailures
                ? $"link to {before.Via} down ({peer.Failures} failed {(peer.Link.Nodes is null ? "fetches" : "probes")})"
                : $"advertisement of {before.Via} older than {_options.MaxRouteAge}";
        }

        return Advertisement(peer).Any(a => a.Uuid == before.Destination)
            ? $"hop limit {_options.MaxHops} exceeded"
            : $"no longer advertised by {before.Via}";
    }

    private sealed class PeerState(PeerLink link)
    {
        public PeerLink Link { get; } = link;

        public IReadOnlyList<Advertisement> Routes { get; set; } = [];

        public int Failures { get; set; }

        public DateTimeOffset? LastAdvertised { get; set; }
    }
}
