namespace AnnexEdge.Routing;

/// <summary>
/// What the UUID of a p2phttp request names: a <see cref="Repository"/> (served by YARP from its backends), a
/// <see cref="Cluster"/> (served by the edge as its gateway) or the <see cref="Gateway"/> itself. Every request
/// resolves to exactly one target and goes through the same layers whatever it is.
/// </summary>
internal abstract record Target(string Name, string Uuid)
{
    /// <summary>The request-log property that names the target (<c>Repository</c> or <c>Cluster</c>).</summary>
    public abstract string LogProperty { get; }
}

/// <summary>The edge's own UUID (<c>AnnexEdge:Uuid</c>): the gateway as a repository of its own, which stores nothing.</summary>
internal sealed record Gateway(string Uuid) : Target("gateway", Uuid)
{
    public override string LogProperty => Logging.RequestLogProperties.Repository;
}
