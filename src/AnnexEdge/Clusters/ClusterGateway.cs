using AnnexEdge.Peering;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// Serves a cluster UUID: the edge is the cluster's gateway and answers every p2phttp request by asking its
/// nodes, as git-annex's own gateway does (<c>Annex/Cluster.hs</c>, <c>P2P/Proxy.hs</c>), but from live answers of
/// the nodes rather than a location log. It never claims a copy stored, removed or locked that a node did not confirm.
/// Locks never get here: a cluster is not locked as a whole (<c>LockPolicyMiddleware</c>).
/// </summary>
internal sealed class ClusterGateway(
    ClusterClock clock,
    ClusterCheckPresent checkPresent,
    ClusterDownload download,
    ClusterUpload upload,
    ClusterRemove remove,
    PeerRoutes peers)
{
    public Task ServeAsync(HttpContext context, P2pRequestFeature feature, Cluster cluster)
    {
        var ct = context.RequestAborted;
        var nodes = NodesFor(feature.Request, cluster);
        return feature.Request.Endpoint switch
        {
            P2pEndpoint.GetTimestamp => context.AnswerAsync(P2pAnswers.Timestamp(clock.Timestamp())),
            P2pEndpoint.CheckPresent => checkPresent.ServeAsync(context, feature, WithRemote(feature.Request, cluster, nodes), ct),
            P2pEndpoint.Remove or P2pEndpoint.RemoveBefore => remove.ServeAsync(
                context, feature, cluster, WithPeerShares(feature.Request, cluster, nodes), peers.UnreachableNodes(cluster, feature.Request.Bypass), ct),
            // An upload places the key on nodes first, wherever they are, and makes the peers' shares of those.
            P2pEndpoint.PutOffset => upload.PutOffsetAsync(context, feature, cluster, WithRemote(feature.Request, cluster, nodes), ct),
            P2pEndpoint.Put => upload.PutAsync(context, feature, cluster, WithRemote(feature.Request, cluster, nodes), ct),
            P2pEndpoint.Key => download.ServeAsync(context, feature, WithRemote(feature.Request, cluster, nodes), ct),
            // LockPolicyMiddleware answers locks before this; should one get here, it is never claimed locked.
            P2pEndpoint.LockContent or P2pEndpoint.KeepLocked => context.AnswerAsync(P2pAnswers.Locked(false)),
            _ => context.RejectAsync(P2pRejection.NotFound),
        };
    }

    /// <summary>
    /// For reads and uploads: the cluster's nodes at other sites too, each through its peer, at the cost of the whole path.
    /// </summary>
    private Repository[] WithRemote(P2pRequest request, Cluster cluster, Repository[] local) =>
        [.. local, .. peers.RemoteNodes(cluster, request.Bypass)];

    /// <summary>For a removal: the cluster's nodes at other sites too, as one target per peer (<see cref="PeerShare"/>).</summary>
    private Repository[] WithPeerShares(P2pRequest request, Cluster cluster, Repository[] local) =>
        [.. local, .. PeerShares.Targets(cluster, peers.RemoteNodes(cluster, request.Bypass), request.Bypass)];

    /// <summary>The cluster's nodes, less any the client asked to bypass.</summary>
    private static Repository[] NodesFor(P2pRequest request, Cluster cluster) =>
        cluster.Nodes.Where(n => !request.Bypass.Contains(n.Uuid, StringComparer.Ordinal)).ToArray();
}
