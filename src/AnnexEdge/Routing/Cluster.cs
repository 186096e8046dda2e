namespace AnnexEdge.Routing;

/// <summary>A cluster the edge is gateway to: its UUID stands for its node repositories.</summary>
public sealed record Cluster(string Name, string Uuid, IReadOnlyList<Repository> Nodes, int? Copies, TimeSpan TimestampSkewMargin);
