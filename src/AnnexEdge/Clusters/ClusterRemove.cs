using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// remove and remove-before on a cluster: from every node at once, wherever it is (the nodes at other sites with one
/// request per peer, <see cref="PeerShare"/>); removed only when every node removed it, and in any case the nodes that
/// did are named in plusuuids (as git-annex's gateway answers, <see cref="TargetAnswers"/>). A node at another site
/// that no route reaches now (its route withdrawn) is a node the removal did not reach: removed is then false. A
/// remove-before deadline is translated into each target's clock (a peer's too) so that no node removes later than
/// the client allowed.
/// </summary>
internal sealed partial class ClusterRemove(NodeClient nodes, ClusterClock clock, ILogger<ClusterRemove> logger)
{
    /// <param name="unreachable">The cluster's nodes at other sites that no live route reaches (<see cref="Peering.PeerRoutes.UnreachableNodes"/>).</param>
    public async Task ServeAsync(
        HttpContext context, P2pRequestFeature feature, Cluster cluster, IReadOnlyList<Repository> targets, IReadOnlyList<string> unreachable, CancellationToken ct)
    {
        var request = feature.Request;
        foreach (var share in targets.Select(t => t.Share).OfType<PeerShare>())
        {
            Log.RemoveThroughPeer(logger, cluster.Name, request.Key, share.Peer.Name, string.Join(' ', share.Nodes));
        }

        var results = await Task.WhenAll(targets.Select(n => request.Endpoint == P2pEndpoint.RemoveBefore
            ? RemoveBeforeOnNodeAsync(feature, n, cluster, ct)
            : RemoveOnNodeAsync(feature, n, nodes.NodeRequest(request, n, P2pEndpoint.Remove), ct)));

        var removedFrom = results.SelectMany(r => r.Uuids).Distinct(StringComparer.Ordinal).ToArray();
        var allRemoved = targets.Count > 0 && results.All(r => r.Removed) && unreachable.Count == 0;
        if (!allRemoved)
        {
            Log.PartialRemoval(logger, cluster.Name, request.Key, removedFrom.Length, targets.Sum(t => t.Share?.Nodes.Count ?? 1) + unreachable.Count);
        }

        await context.AnswerAsync(P2pAnswers.Removed(allRemoved, removedFrom, request.EffectiveVersion));
    }

    private async Task<(bool Removed, IReadOnlyList<string> Uuids)> RemoveOnNodeAsync(
        P2pRequestFeature feature, Repository node, P2pRequest nodeRequest, CancellationToken ct)
    {
        var answer = await nodes.PostAsync(feature, node, nodeRequest, ct);
        return (TargetAnswers.Succeeded(node, answer, TargetAnswers.Removed), TargetAnswers.Confirmed(node, answer, TargetAnswers.Removed));
    }

    private async Task<(bool Removed, IReadOnlyList<string> Uuids)> RemoveBeforeOnNodeAsync(
        P2pRequestFeature feature, Repository node, Cluster cluster, CancellationToken ct)
    {
        var request = feature.Request;
        var deadline = request.Timestamp!.Value;
        if (deadline <= clock.Now())
        {
            return (false, []);
        }

        var stamp = await nodes.PostAsync(feature, node, nodes.NodeRequest(request, node, P2pEndpoint.GetTimestamp), ct);
        var nodeTimestamp = stamp?.Number("timestamp");
        var readBy = clock.Now();
        if (nodeTimestamp is null)
        {
            return (false, []);
        }

        var nodeDeadline = RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp.Value, readBy, cluster.TimestampSkewMargin);
        if (nodeDeadline is null)
        {
            return (false, []);
        }

        return await RemoveOnNodeAsync(feature, node, nodes.NodeRequest(request, node, P2pEndpoint.RemoveBefore) with { Timestamp = nodeDeadline }, ct);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterPartialRemoval, LogLevel.Warning, "Cluster {Cluster}: {Key} was removed from {Removed} of {Nodes} nodes; the client is told it was not removed")]
        public static partial void PartialRemoval(ILogger logger, string cluster, string? key, int removed, int nodes);

        [LoggerMessage(EdgeEventIds.ClusterRemoveThroughPeer, LogLevel.Information, "Cluster {Cluster}: {Key} is removed from nodes {Nodes} through peer {Peer}, in one remove of the cluster there")]
        public static partial void RemoveThroughPeer(ILogger logger, string cluster, string? key, string peer, string nodes);
    }
}
