namespace AnnexEdge.Routing;

/// <summary>
/// Another gateway of the same clusters (<c>AnnexEdge:Peers</c>): an AnnexEdge, whose routes are fetched from it, or a
/// git-annex gateway, which advertises nothing and reaches its configured <see cref="Nodes"/>. Requests for a node it
/// reaches go through YARP like a repository's, on the peer's own YARP cluster.
/// </summary>
internal sealed record Peer(string Name, string Uuid, IReadOnlyList<Backend> Backends, double LinkCost, IReadOnlyList<string> Clusters, IReadOnlyList<string>? Nodes, int MaxLocks = 0)
{
    /// <summary>YARP cluster id of the peer.</summary>
    public string YarpClusterId => "peer:" + Name;

    /// <summary>Whether the peer is an AnnexEdge that advertises its routes (a git-annex gateway has configured Nodes instead).</summary>
    public bool Advertises => Nodes is null;
}
