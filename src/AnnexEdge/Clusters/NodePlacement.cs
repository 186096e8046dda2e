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
    /// The nodes an upload goes to: all live ones, or with <c>Copies</c> the first live nodes in the key's rendezvous
    /// order, so every edge places a key on the same nodes and a node leaving moves only its own share. Peers' shares
    /// of the cluster (<see cref="Repository.Share"/>) are written only without <c>Copies</c>: placement does not
    /// span sites yet, and the copies are this edge's.
    /// </summary>
    public static IReadOnlyList<Repository> UploadTargets(Cluster cluster, string key, IReadOnlyList<Repository> liveNodes)
    {
        if (cluster.Copies is not { } copies)
        {
            return liveNodes;
        }

        var local = liveNodes.Where(n => n.Share is null).ToArray();
        return copies >= local.Length
            ? local
            : local.OrderByDescending(n => RendezvousScore(key, n.Uuid)).ThenBy(n => n.Uuid, StringComparer.Ordinal).Take(copies).ToArray();
    }

    /// <summary>Download order: lowest cost first, then the node with the fewest transfers in flight from this edge.</summary>
    public static IReadOnlyList<Repository> DownloadOrder(IEnumerable<Repository> nodes, Func<Repository, int> inFlight) =>
        nodes.OrderBy(n => n.Cost).ThenBy(inFlight).ThenBy(n => n.Name, StringComparer.Ordinal).ToArray();

    public static ulong RendezvousScore(string key, string nodeUuid) =>
        BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(key + "\n" + nodeUuid)));
}
