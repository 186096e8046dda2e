using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// What one target's answer to a cluster's put or remove confirms, counted as git-annex's gateway counts a node's
/// answer (<c>P2P/Proxy.hs</c>): a node that succeeded, with its plusuuids; the plusuuids of a failed removal (removed
/// there all the same); nothing of a failed put. A peer's share (<see cref="PeerShare"/>) answers for the cluster
/// UUID, which is no node: only the nodes its answer names count.
/// </summary>
internal static class TargetAnswers
{
    public const string Stored = "stored";
    public const string Removed = "removed";

    /// <summary>
    /// Whether the target did it. A peer's removal counts only when its answer names every node of its share: a peer
    /// that no longer reaches one of them answers removed for the rest, and the content is still there.
    /// </summary>
    public static bool Succeeded(Repository target, P2pAnswer? answer, string field) =>
        answer?.Bool(field) == true
        && (field != Removed || target.Share is not { } share || share.Nodes.All(answer.PlusUuids().Contains));

    /// <summary>The UUIDs the answer confirms hold (<see cref="Stored"/>) or no longer hold (<see cref="Removed"/>) the key.</summary>
    public static IReadOnlyList<string> Confirmed(Repository target, P2pAnswer? answer, string field)
    {
        if (answer is null || (answer.Bool(field) != true && field == Stored))
        {
            return [];
        }

        var plus = answer.PlusUuids().Where(u => u != target.Uuid);
        return answer.Bool(field) == true && target.Share is null ? [target.Uuid, .. plus] : [.. plus];
    }
}
