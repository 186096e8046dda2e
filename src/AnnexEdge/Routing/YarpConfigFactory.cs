using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;

namespace AnnexEdge.Routing;

/// <summary>
/// Turns the repositories of the configuration into YARP routes and clusters, so operators never write YARP
/// configuration for repositories. One route and one cluster per repository; each backend is a destination.
/// </summary>
internal static class YarpConfigFactory
{
    /// <summary>Cluster metadata key holding the repository UUID (read by the health probe).</summary>
    public const string RepositoryUuidMetadata = "AnnexEdge.RepositoryUuid";

    public static IReadOnlyList<RouteConfig> Routes(CatalogSnapshot catalog) =>
        catalog.Repositories.Select(r => new RouteConfig
        {
            RouteId = r.YarpClusterId,
            ClusterId = r.YarpClusterId,
            Match = new RouteMatch { Path = $"/git-annex/{r.Uuid}/{{**rest}}" },
            // Objects can be many GB; the P2P layer has already validated the request.
            MaxRequestBodySize = -1,
        }).ToArray();

    public static IReadOnlyList<ClusterConfig> Clusters(CatalogSnapshot catalog)
    {
        var options = catalog.Options;
        var health = options.HealthChecks;
        var forwarding = options.Forwarding;
        return catalog.Repositories.Select(r => new ClusterConfig
        {
            ClusterId = r.YarpClusterId,
            LoadBalancingPolicy = r.LoadBalancing,
            Destinations = r.Backends.ToDictionary(b => b.Id, b => new DestinationConfig { Address = b.Address }, StringComparer.Ordinal),
            HealthCheck = new HealthCheckConfig
            {
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = health.Enabled,
                    Interval = health.Interval,
                    Timeout = health.Timeout,
                    Policy = HealthCheckConstants.ActivePolicy.ConsecutiveFailures,
                },
                Passive = new PassiveHealthCheckConfig
                {
                    Enabled = true,
                    Policy = Health.ConnectFailurePolicy.PolicyName,
                    ReactivationPeriod = health.ReactivationPeriod,
                },
            },
            HttpClient = new HttpClientConfig
            {
                DangerousAcceptAnyServerCertificate = forwarding.DangerousAcceptAnyBackendCertificate,
                MaxConnectionsPerServer = forwarding.MaxConnectionsPerBackend > 0 ? forwarding.MaxConnectionsPerBackend : null,
            },
            HttpRequest = new ForwarderRequestConfig
            {
                ActivityTimeout = forwarding.ActivityTimeout,
                // p2phttp answers are small JSON or a streamed object: never buffer.
                AllowResponseBuffering = false,
            },
            Metadata = new Dictionary<string, string>
            {
                [RepositoryUuidMetadata] = r.Uuid,
                [ConsecutiveFailuresHealthPolicyOptions.ThresholdMetadataName] = health.FailureThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        }).ToArray();
    }
}
