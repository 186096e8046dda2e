using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// Which nodes a cluster operation uses, and in which order.
/// </summary>
internal static class NodePlacement
{
    /// <summary>
    /// The nodes an upload goes to: all live ones, or with <c>Copies</c> that many. This edge's own nodes come first, in
    /// the key's rendezvous order, so every edge places a key on the same nodes and a node leaving moves only its own
    /// share; nodes at other sites (reached through a peer, <see cref="Repository.Via"/>) fill what the local nodes
    /// cannot, cheapest path first, then in rendezvous order.
    /// </summary>
    public static IReadOnlyList<Repository> UploadTargets(Cluster cluster, string key, IReadOnlyList<Repository> liveNodes)
    {
        if (cluster.Copies is not { } copies || copies >= liveNodes.Count)
        {
            return liveNodes;
        }

        return liveNodes
            .OrderBy(n => n.Via is null ? 0 : 1)
            .ThenBy(n => n.Via is null ? 0 : n.Cost)
            .ThenByDescending(n => RendezvousScore(key, n.Uuid))
            .ThenBy(n => n.Uuid, StringComparer.Ordinal)
            .Take(copies)
            .ToArray();
    }

    /// <summary>Download order: lowest cost first, then the node with the fewest transfers in flight from this edge.</summary>
    public static IReadOnlyList<Repository> DownloadOrder(IEnumerable<Repository> nodes, Func<Repository, int> inFlight) =>
        nodes.OrderBy(n => n.Cost).ThenBy(inFlight).ThenBy(n => n.Name, StringComparer.Ordinal).ToArray();

    public static ulong RendezvousScore(string key, string nodeUuid) =>
        BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(key + "\n" + nodeUuid)));
}
