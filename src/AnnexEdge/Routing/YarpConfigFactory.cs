using AnnexEdge.Configuration;
using AnnexEdge.Protocol;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace AnnexEdge.Routing;

/// <summary>
/// Turns the repositories and peers of the configuration into YARP routes and clusters, so operators never write YARP
/// configuration. One cluster per repository and per peer, each backend a destination; one route for them all
/// (<see cref="RepositoriesRouteId"/>).
/// </summary>
internal static class YarpConfigFactory
{
    /// <summary>Cluster metadata key holding the repository UUID (read by the health probe).</summary>
    public const string RepositoryUuidMetadata = "AnnexEdge.RepositoryUuid";

    /// <summary>
    /// The route (and its cluster, which has no destinations) of every request for a repository, or a node behind a
    /// peer: the P2P layer has already resolved it, and <see cref="Pipeline.RepositoryClusterMiddleware"/> hands the
    /// request to its cluster. Measured with a directory of 10,000 repositories: a route per repository cost ~3 KB
    /// each in YARP's and ASP.NET's endpoint models (patterns, metadata caches, transforms, the matcher's states), and
    /// every repository that came or went rebuilt the matcher over all of them. Without the "repo:" or "peer:" of other
    /// clusters' ids.
    /// </summary>
    public const string RepositoriesRouteId = "repositories";

    /// <summary>The one route, the same for every configuration.</summary>
    public static IReadOnlyList<RouteConfig> Routes { get; } =
    [
        new()
        {
            RouteId = RepositoriesRouteId,
            ClusterId = RepositoriesRouteId,
            Match = new RouteMatch { Path = P2pRequestParser.PathPrefix + "{**rest}" },
            // Objects can be many GB; the P2P layer has already validated the request.
            MaxRequestBodySize = -1,
        },
    ];

    public static IReadOnlyList<ClusterConfig> Clusters(CatalogSnapshot catalog)
    {
        var parts = new SharedParts(catalog.Options);
        return catalog.Repositories.Select(r => Cluster(
                r.YarpClusterId, r.LoadBalancing, r.Backends, r.Uuid, parts, r.FromDirectory ? Probing.SharedPerAddress : Probing.PerCluster))
            // A peer's liveness is its route fetches (PeerRefresher); passive checks still keep a dead backend aside.
            .Concat(catalog.Peers.Select(p => Cluster(
                p.YarpClusterId, LoadBalancingPolicies.PowerOfTwoChoices, p.Backends, p.Uuid, parts, Probing.None)))
            .Append(new ClusterConfig { ClusterId = RepositoriesRouteId })
            .ToArray();
    }

    /// <summary>Who sends a YARP cluster's active health probes.</summary>
    private enum Probing
    {
        /// <summary>YARP, once per cluster (a configured repository).</summary>
        PerCluster,

        /// <summary>
        /// <see cref="Health.SharedBackendProber"/>, once per backend address for every repository of a directory: YARP's
        /// own probes are off, and the destination policy still honours the active health the prober sets.
        /// </summary>
        SharedPerAddress,

        /// <summary>Nobody (a peer).</summary>
        None,
    }

    private static ClusterConfig Cluster(
        string id, string loadBalancing, IReadOnlyList<Backend> backends, string uuid, SharedParts parts, Probing probing) => new()
    {
        ClusterId = id,
        LoadBalancingPolicy = loadBalancing,
        Destinations = backends.ToDictionary(b => b.Id, b => new DestinationConfig { Address = b.Address }, StringComparer.Ordinal),
        HealthCheck = parts.HealthCheck[(int)probing],
        HttpClient = parts.HttpClient,
        HttpRequest = parts.HttpRequest,
        Metadata = Metadata(uuid, parts.FailureThreshold, probing),
    };

    /// <summary>
    /// The parts of a cluster's configuration that depend on the settings alone, made once for all clusters: YARP's
    /// configs are immutable records compared by value, and a forge's 10,000 clusters each had their own five copies.
    /// </summary>
    private sealed class SharedParts
    {
        public SharedParts(AnnexEdgeOptions options)
        {
            var health = options.HealthChecks;
            var forwarding = options.Forwarding;
            FailureThreshold = health.FailureThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var passive = new PassiveHealthCheckConfig
            {
                Enabled = true,
                Policy = Health.ConnectFailurePolicy.PolicyName,
                ReactivationPeriod = health.ReactivationPeriod,
            };
            HealthCheck = Enum.GetValues<Probing>().Select(probing => new HealthCheckConfig
            {
                AvailableDestinationsPolicy = probing == Probing.SharedPerAddress ? Health.SharedProbeDestinationsPolicy.PolicyName : null,
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = health.Enabled && probing == Probing.PerCluster,
                    Interval = health.Interval,
                    Timeout = health.Timeout,
                    Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                },
                Passive = passive,
            }).ToArray();
            HttpClient = new HttpClientConfig
            {
                DangerousAcceptAnyServerCertificate = forwarding.DangerousAcceptAnyBackendCertificate,
                MaxConnectionsPerServer = forwarding.MaxConnectionsPerBackend > 0 ? forwarding.MaxConnectionsPerBackend : null,
            };
            HttpRequest = new ForwarderRequestConfig
            {
                ActivityTimeout = forwarding.ActivityTimeout,
                // p2phttp answers are small JSON or a streamed object: never buffer.
                AllowResponseBuffering = false,
            };
        }

        /// <summary>By <see cref="Probing"/>.</summary>
        public HealthCheckConfig[] HealthCheck { get; }

        public HttpClientConfig HttpClient { get; }

        public ForwarderRequestConfig HttpRequest { get; }

        public string FailureThreshold { get; }
    }

    private static Dictionary<string, string> Metadata(string uuid, string failureThreshold, Probing probing)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [RepositoryUuidMetadata] = uuid,
            [ConsecutiveFailuresHealthPolicyOptions.ThresholdMetadataName] = failureThreshold,
        };
        if (probing == Probing.SharedPerAddress)
        {
            // A directory's repositories: one HTTP client, so their requests to a backend share its connections.
            metadata[Forwarding.EdgeHttpClientFactory.SharedClientMetadata] = "directory";
        }

        return metadata;
    }
}
