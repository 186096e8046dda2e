using System.Collections.Frozen;
using AnnexEdge.Configuration;
using AnnexEdge.Git;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Routing;

/// <summary>
/// Looks up what a repository UUID names, from the configuration in force: one immutable
/// <see cref="CatalogSnapshot"/> that a reload replaces as a whole. A request resolves its target once, when it
/// arrives, and keeps that target (an immutable record) to its end, so a reload never changes a request in flight.
/// </summary>
internal sealed class RepositoryCatalog(CatalogSnapshot initial)
{
    private volatile CatalogSnapshot _current = initial;

    public RepositoryCatalog(AnnexEdgeOptions options)
        : this(new CatalogSnapshot(options, ConfigVersion.Of(null, DateTimeOffset.UnixEpoch)))
    {
    }

    /// <summary>The configuration in force now.</summary>
    public CatalogSnapshot Current => _current;

    public IReadOnlyList<Repository> Repositories => _current.Repositories;

    public IReadOnlyList<Cluster> Clusters => _current.Clusters;

    /// <inheritdoc cref="CatalogSnapshot.Peers"/>
    public IReadOnlyList<Peer> Peers => _current.Peers;

    /// <inheritdoc cref="CatalogSnapshot.GatewayUuid"/>
    public string? GatewayUuid => _current.GatewayUuid;

    /// <inheritdoc cref="CatalogSnapshot.ClientUuid"/>
    public string ClientUuid => _current.ClientUuid;

    /// <summary>Puts <paramref name="next"/> in force for every request that arrives from now on.</summary>
    public void Replace(CatalogSnapshot next)
    {
        _current = next;
        Replaced?.Invoke(next);
    }

    /// <summary>A new snapshot is in force: state kept per backend forgets the backends it no longer has.</summary>
    public event Action<CatalogSnapshot>? Replaced;

    /// <inheritdoc cref="CatalogSnapshot.Resolve"/>
    public Target? Resolve(string uuid) => _current.Resolve(uuid);

    public Repository? Find(string uuid) => _current.Find(uuid);

    public Cluster? FindCluster(string uuid) => _current.FindCluster(uuid);
}

/// <summary>
/// Everything that a reload may change, built from one validated configuration: repositories, clusters, the access
/// policy, the git repositories and the version of the config file they came from.
/// </summary>
internal sealed class CatalogSnapshot
{
    /// <summary>The clientuuid of an edge without a UUID of its own.</summary>
    public const string DefaultClientUuid = "00000000-0000-4000-8000-00000000ed9e";

    private readonly FrozenDictionary<string, Repository> _byUuid;
    private readonly FrozenDictionary<string, Repository> _byYarpCluster;
    private readonly FrozenDictionary<string, Cluster> _clustersByUuid;
    private readonly FrozenDictionary<string, BackendCredentials> _credentials;
    private readonly Gateway? _gateway;
    private FrozenSet<string>? _backendIds;
    private FrozenSet<string>? _backendAddresses;

    public CatalogSnapshot(AnnexEdgeOptions options, ConfigVersion version)
    {
        Options = options;
        Version = version;
        Repositories = options.Repositories
            .Select(r => new Repository(
                r.Name,
                r.Uuid,
                r.Backends.Select(b => Backend.For(r.Name, b)).ToArray(),
                r.LoadBalancing ?? Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.PowerOfTwoChoices,
                r.Cost,
                r.MaxLocks ?? Math.Max(0, r.Jobs / 2 - 1),
                r.Jobs) { FromDirectory = r.FoundInDirectory })
            .ToArray();
        _byUuid = Repositories.ToFrozenDictionary(r => r.Uuid, StringComparer.Ordinal);
        _byYarpCluster = Repositories.ToFrozenDictionary(r => r.YarpClusterId, StringComparer.Ordinal);
        var byName = Repositories.ToDictionary(r => r.Name, StringComparer.OrdinalIgnoreCase);
        Clusters = options.Clusters
            .Select(c => new Cluster(c.Name, c.Uuid, c.Nodes.Select(n => byName[n]).ToArray(), c.Copies, c.TimestampSkewMargin))
            .ToArray();
        _clustersByUuid = Clusters.ToFrozenDictionary(c => c.Uuid, StringComparer.Ordinal);
        Peers = options.Peers
            .Select(p => new Peer(p.Name, p.Uuid, p.Backends.Select(b => Backend.For(p.Name, b)).ToArray(), p.LinkCost, p.Clusters, p.Nodes, p.MaxLocks))
            .ToArray();
        // Built from the options in their order. A peer is sent its own credentials, never a client's (Peers[].BackendUser).
        _credentials = Repositories.Zip(options.Repositories, (r, o) => (r.YarpClusterId, Credentials: BackendCredentials.Of(o.BackendUser, o.BackendPassword, o.ForwardClientAuthorization)))
            .Concat(Peers.Zip(options.Peers, (p, o) => (p.YarpClusterId, Credentials: BackendCredentials.Of(o.BackendUser, o.BackendPassword, forwardClientAuthorization: false))))
            .ToFrozenDictionary(c => c.YarpClusterId, c => c.Credentials, StringComparer.Ordinal);
        GatewayUuid = options.Uuid;
        _gateway = options.Uuid is null ? null : new Gateway(options.Uuid);
        Access = new AccessPolicy(options);
        Git = new GitCatalog(options, this);
    }

    /// <summary>The validated options this snapshot was built from (those a reload cannot change are the running ones).</summary>
    public AnnexEdgeOptions Options { get; }

    public ConfigVersion Version { get; }

    public IReadOnlyList<Repository> Repositories { get; }

    public IReadOnlyList<Cluster> Clusters { get; }

    /// <summary>Other gateways of the same clusters (<c>AnnexEdge:Peers</c>).</summary>
    public IReadOnlyList<Peer> Peers { get; }

    public AccessPolicy Access { get; }

    public GitCatalog Git { get; }

    /// <summary>The edge's own UUID as a gateway, when configured.</summary>
    public string? GatewayUuid { get; }

    /// <summary>
    /// The UUID the edge gives as <c>clientuuid</c> when it asks a backend on its own behalf (health probes, a client
    /// request that carried none): its gateway UUID, or a fixed one when it has none.
    /// </summary>
    public string ClientUuid => GatewayUuid ?? DefaultClientUuid;

    /// <summary>What the UUID names, or null when the edge serves no such UUID.</summary>
    public Target? Resolve(string uuid) =>
        _clustersByUuid.GetValueOrDefault(uuid) ?? (Target?)_byUuid.GetValueOrDefault(uuid)
        ?? (uuid == GatewayUuid ? _gateway : null);

    public Repository? Find(string uuid) => _byUuid.GetValueOrDefault(uuid);

    public Cluster? FindCluster(string uuid) => _clustersByUuid.GetValueOrDefault(uuid);

    /// <summary>
    /// The ids of every backend this snapshot sends requests to, its repositories' and its peers'. State kept per
    /// backend forgets what a new snapshot no longer has (a directory's repositories come and go).
    /// </summary>
    public FrozenSet<string> BackendIds => _backendIds ??= Backends().Select(b => b.Id).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The addresses of the backends in <see cref="BackendIds"/>.</summary>
    public FrozenSet<string> BackendAddresses => _backendAddresses ??= Backends().Select(b => b.Address).ToFrozenSet(StringComparer.Ordinal);

    private IEnumerable<Backend> Backends() => Repositories.SelectMany(r => r.Backends).Concat(Peers.SelectMany(p => p.Backends));

    /// <summary>The repository whose backends form this YARP cluster, or null.</summary>
    public Repository? FindByYarpCluster(string clusterId) => _byYarpCluster.GetValueOrDefault(clusterId);

    /// <summary>What the edge sends the backends of a YARP cluster: its repository's (or peer's) credentials, or none.</summary>
    public BackendCredentials CredentialsFor(string clusterId) => _credentials.GetValueOrDefault(clusterId, BackendCredentials.None);
}
