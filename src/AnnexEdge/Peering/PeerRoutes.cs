using AnnexEdge.Clusters;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Peering;

/// <summary>
/// This edge's routing table over its own nodes and its peers (<see cref="RouteTable"/>), kept up to date by the
/// <see cref="PeerRefresher"/>, and what the request path asks of it: which peer a node UUID that no configured
/// repository has is reached through.
/// </summary>
internal sealed partial class PeerRoutes
{
    private readonly RepositoryCatalog _catalog;
    private readonly NodeClient _nodes;
    private readonly ILogger<PeerRoutes> _logger;
    private readonly Lock _gate = new();
    private CatalogSnapshot _configured;

    public PeerRoutes(RepositoryCatalog catalog, NodeClient nodes, IOptions<AnnexEdgeOptions> options, TimeProvider time, ILogger<PeerRoutes> logger)
    {
        _catalog = catalog;
        _nodes = nodes;
        _logger = logger;
        _configured = catalog.Current;
        Table = new RouteTable(Links(_configured), options.Value.Routing, time);
    }

    public RouteTable Table { get; }

    public Peer? PeerByUuid(string uuid) => _catalog.Peers.FirstOrDefault(p => p.Uuid == uuid);

    /// <summary>
    /// A node this edge does not serve itself, as a repository reached through the cheapest peer not in the request's
    /// <c>bypass</c>; null when no route reaches it.
    /// </summary>
    public Repository? Through(string uuid, IReadOnlyList<string> bypass)
    {
        return Table.Best(uuid, bypass) is { ViaUuid: not null } route ? Node(route) : null;
    }

    /// <summary>
    /// The cluster's nodes at other sites, each through the cheapest peer not in <paramref name="bypass"/>, at the
    /// cost of the whole path (so a download tries them after every cheaper node).
    /// </summary>
    public IReadOnlyList<Repository> RemoteNodes(Cluster cluster, IReadOnlyList<string> bypass) =>
        Table.ThroughPeers(cluster.Uuid, bypass).Where(r => _catalog.Find(r.Destination) is null).Select(Node).OfType<Repository>().ToArray();

    /// <summary>
    /// The cluster's nodes at other sites (not in <paramref name="bypass"/>) that no live route reaches now: their
    /// routes are withdrawn (a dead node, a peer down) and still listed, for <c>MaxRouteAge</c>. A removal cannot reach
    /// them, so it is not claimed done.
    /// </summary>
    public IReadOnlyList<string> UnreachableNodes(Cluster cluster, IReadOnlyList<string> bypass) =>
        Table.Routes
            .Where(r => !r.IsLive && r.Via is not null && r.Clusters.Contains(cluster.Uuid, StringComparer.Ordinal)
                && !bypass.Contains(r.Destination, StringComparer.Ordinal) && _catalog.Find(r.Destination) is null)
            .Select(r => r.Destination)
            .ToArray();

    /// <summary>The node through its route's peer; null when a reload removed that peer since the table was computed.</summary>
    private Repository? Node(Route route)
    {
        if (_catalog.Peers.FirstOrDefault(p => p.Name == route.Via) is not { } peer)
        {
            return null;
        }

        // The peer's lock slots are this edge's locks through it, whichever of its nodes they are on (the ledger counts
        // them by the peer's backend); the peer keeps each node's own budget.
        return new Repository(peer.Name, route.Destination, peer.Backends, Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.PowerOfTwoChoices, route.Cost, peer.MaxLocks)
        {
            Via = peer,
        };
    }

    /// <summary>Raised when a peer says its routes changed (<see cref="PeerEndpoints.ChangedPath"/>): fetch them now.</summary>
    public event Action? RefreshRequested;

    public void RequestRefresh() => RefreshRequested?.Invoke();

    /// <summary>
    /// Recomputes the table from the nodes' health now and the peers' last advertisements, logging each change; after a
    /// reload, with the peers it configures (a changed link cost counts from here). Whether any best route changed.
    /// </summary>
    public bool Recompute()
    {
        lock (_gate)
        {
            if (_catalog.Current is var current && current != _configured)
            {
                _configured = current;
                Table.Configure(Links(current));
            }
        }

        var local = _catalog.Repositories
            .Select(r => new LocalNode(r.Uuid, r.Cost, _nodes.IsLive(r), _catalog.Clusters.Where(c => c.Nodes.Contains(r)).Select(c => c.Uuid).ToArray()))
            .ToArray();
        var changes = Table.Recompute(local);
        foreach (var change in changes)
        {
            var after = change.After;
            var via = after.Via ?? "direct";
            if (!after.IsLive)
            {
                Log.RouteWithdrawn(_logger, change.Destination, via, after.Withdrawn!);
            }
            else if (change.Before is not { IsLive: true })
            {
                Log.RouteAdded(_logger, change.Destination, via, after.Hops, after.Cost);
            }
            else
            {
                Log.RouteChanged(_logger, change.Destination, change.Before.Via ?? "direct", via, after.Hops, after.Cost);
            }
        }

        return changes.Count > 0;
    }

    private static IEnumerable<PeerLink> Links(CatalogSnapshot snapshot)
    {
        var clusterUuids = snapshot.Clusters.ToDictionary(c => c.Name, c => c.Uuid, StringComparer.OrdinalIgnoreCase);
        return snapshot.Peers.Select(p => new PeerLink(p.Name, p.Uuid, p.LinkCost, p.Nodes, p.Clusters.Select(c => clusterUuids[c]).ToArray()));
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.RouteAdded, LogLevel.Information, "Route to {Destination} via {Via}: {Hops} hop(s), cost {Cost}")]
        public static partial void RouteAdded(ILogger logger, string destination, string via, int hops, double cost);

        [LoggerMessage(EdgeEventIds.RouteChanged, LogLevel.Information, "Route to {Destination} moved from {Before} to {Via}: {Hops} hop(s), cost {Cost}")]
        public static partial void RouteChanged(ILogger logger, string destination, string before, string via, int hops, double cost);

        [LoggerMessage(EdgeEventIds.RouteWithdrawn, LogLevel.Warning, "Route to {Destination} via {Via} withdrawn: {Reason}")]
        public static partial void RouteWithdrawn(ILogger logger, string destination, string via, string reason);
    }
}
