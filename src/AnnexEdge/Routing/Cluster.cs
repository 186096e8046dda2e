namespace AnnexEdge.Routing;

/// <summary>A git-annex cluster the edge is gateway to: its UUID stands for its node repositories.</summary>
internal sealed record Cluster(string Name, string Uuid, IReadOnlyList<Repository> Nodes, int? Copies, TimeSpan TimestampSkewMargin)
    : Target(Name, Uuid)
{
    public override string LogProperty => Logging.RequestLogProperties.Cluster;
}
