using AnnexEdge.Routing;

namespace AnnexEdge.Peering;

/// <summary>
/// Which peer writes which of a cluster's nodes at other sites: each remote node through the next hop of its cheapest
/// route (never through two peers), one request per peer. Each peer is told in <c>bypass</c> to leave alone every node
/// this write reaches otherwise, as git-annex's gateways leave out what is in <c>bypass</c> (<c>Annex/Cluster.hs</c>).
/// </summary>
internal static class PeerShares
{
    /// <param name="localNodes">UUIDs of the cluster's nodes at this edge (written here, whether live or not).</param>
    /// <param name="remoteNodes">The cluster's nodes at other sites, each once, through its best peer (<see cref="PeerRoutes.RemoteNodes"/>).</param>
    /// <param name="bypass">The request's own bypass, which every share's request keeps.</param>
    public static IReadOnlyList<PeerShare> Plan(IReadOnlyList<string> localNodes, IReadOnlyList<Repository> remoteNodes, IReadOnlyList<string> bypass)
    {
        var remote = remoteNodes
            .Where(n => n.Via is not null && !localNodes.Contains(n.Uuid, StringComparer.Ordinal) && !bypass.Contains(n.Uuid, StringComparer.Ordinal))
            .GroupBy(n => n.Uuid, StringComparer.Ordinal)
            .Select(g => g.OrderBy(n => n.Cost).ThenBy(n => n.Via!.Name, StringComparer.Ordinal).First())
            .ToArray();
        return remote
            .GroupBy(n => n.Via!.Name, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var mine = g.Select(n => n.Uuid).Order(StringComparer.Ordinal).ToArray();
                var others = remote.Select(n => n.Uuid).Except(mine, StringComparer.Ordinal);
                return new PeerShare(g.First().Via!, mine, [.. bypass.Concat(localNodes).Concat(others).Distinct(StringComparer.Ordinal)]);
            })
            .ToArray();
    }

    /// <summary>
    /// These nodes of the cluster at other sites (<see cref="PeerRoutes.RemoteNodes"/>, or those of them an upload
    /// places a key on) as write targets: one per peer (<see cref="Plan"/>), at the cost of the cheapest of its nodes.
    /// </summary>
    public static IReadOnlyList<Repository> Targets(Cluster cluster, IReadOnlyList<Repository> remote, IReadOnlyList<string> bypass) =>
        Plan(cluster.Nodes.Select(n => n.Uuid).ToArray(), remote, bypass)
            .Select(s => s.AsTarget(cluster, remote.Where(n => s.Nodes.Contains(n.Uuid)).Min(n => n.Cost)))
            .ToArray();
}
