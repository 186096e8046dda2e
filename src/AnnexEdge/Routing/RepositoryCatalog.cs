using System.Collections.Frozen;
using AnnexEdge.Configuration;

namespace AnnexEdge.Routing;

/// <summary>Looks up what a repository UUID names, from the validated configuration.</summary>
internal sealed class RepositoryCatalog
{
    private readonly FrozenDictionary<string, Repository> _byUuid;

    public RepositoryCatalog(AnnexEdgeOptions options)
    {
        Repositories = options.Repositories
            .Select(r => new Repository(
                r.Name,
                r.Uuid,
                r.Backends.Select(b => Backend.For(r.Name, b)).ToArray(),
                r.LoadBalancing ?? Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.PowerOfTwoChoices,
                r.Cost,
                r.MaxLocks ?? Math.Max(0, r.Jobs / 2 - 1),
                r.Jobs))
            .ToArray();
        _byUuid = Repositories.ToFrozenDictionary(r => r.Uuid, StringComparer.Ordinal);
        var byName = Repositories.ToDictionary(r => r.Name, StringComparer.OrdinalIgnoreCase);
        Clusters = options.Clusters
            .Select(c => new Cluster(c.Name, c.Uuid, c.Nodes.Select(n => byName[n]).ToArray(), c.Copies, c.TimestampSkewMargin))
            .ToArray();
        _clustersByUuid = Clusters.ToFrozenDictionary(c => c.Uuid, StringComparer.Ordinal);
        Peers = options.Peers
            .Select(p => new Peer(p.Name, p.Uuid, p.Backends.Select(b => Backend.For(p.Name, b)).ToArray(), p.LinkCost, p.Clusters, p.Nodes))
            .ToArray();
        GatewayUuid = options.Uuid;
        _gateway = options.Uuid is null ? null : new Gateway(options.Uuid);
    }

    private readonly FrozenDictionary<string, Cluster> _clustersByUuid;
    private readonly Gateway? _gateway;

    public IReadOnlyList<Repository> Repositories { get; }

    public IReadOnlyList<Cluster> Clusters { get; }

    /// <summary>Other gateways of the same clusters (<c>AnnexEdge:Peers</c>).</summary>
    public IReadOnlyList<Peer> Peers { get; }

    /// <summary>The edge's own UUID as a gateway, when configured.</summary>
    public string? GatewayUuid { get; }

    /// <summary>
    /// The UUID the edge gives as <c>clientuuid</c> when it asks a backend on its own behalf (health probes, a client
    /// request that carried none): its gateway UUID, or a fixed one when it has none.
    /// </summary>
    public string ClientUuid => GatewayUuid ?? DefaultClientUuid;

    /// <summary>The clientuuid of an edge without a UUID of its own.</summary>
    public const string DefaultClientUuid = "00000000-0000-4000-8000-00000000ed9e";

    /// <summary>What the UUID names, or null when the edge serves no such UUID.</summary>
    public Target? Resolve(string uuid) =>
        _clustersByUuid.GetValueOrDefault(uuid) ?? (Target?)_byUuid.GetValueOrDefault(uuid)
        ?? (uuid == GatewayUuid ? _gateway : null);

    public Repository? Find(string uuid) => _byUuid.GetValueOrDefault(uuid);

    public Cluster? FindCluster(string uuid) => _clustersByUuid.GetValueOrDefault(uuid);
}
