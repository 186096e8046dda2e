namespace AnnexEdge.Security;

/// <summary>
/// What a request addresses, for permission look-ups: a repository or cluster Name (the gateway's own UUID is
/// looked up by the UUID), and for a repository the clusters it is a node of.
/// </summary>
internal sealed record AccessTarget(string Name, IReadOnlyList<string> Clusters)
{
    public static AccessTarget Of(string name) => new(name, []);
}
