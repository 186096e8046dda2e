using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using AnnexEdge.Health;
using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Routing;

public sealed class YarpConfigFactoryTests
{
    private const string Uuid1 = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Uuid2 = "5f0e8c1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a";

    private static AnnexEdgeOptions Options() => new()
    {
        Repositories =
        [
            new RepositoryOptions { Name = "node1", Uuid = Uuid1, Backends = ["http://127.0.0.1:9417/", "http://127.0.0.1:9418"] },
            new RepositoryOptions { Name = "node2", Uuid = Uuid2, Backends = ["https://10.0.0.2:9417"], LoadBalancing = "RoundRobin" },
        ],
        HealthChecks = new HealthCheckOptions
        {
            Enabled = false,
            Interval = TimeSpan.FromSeconds(7),
            Timeout = TimeSpan.FromSeconds(3),
            FailureThreshold = 4,
            ReactivationPeriod = TimeSpan.FromSeconds(42),
        },
        Forwarding = new ForwardingOptions
        {
            ActivityTimeout = TimeSpan.FromMinutes(9),
            MaxConnectionsPerBackend = 12,
            DangerousAcceptAnyBackendCertificate = true,
        },
    };

    [Fact]
    public void Every_repository_shares_one_route_whose_cluster_has_no_destinations()
    {
        var catalog = new RepositoryCatalog(Options()).Current;
        var route = Assert.Single(YarpConfigFactory.Routes);
        Assert.Equal(YarpConfigFactory.RepositoriesRouteId, route.RouteId);
        Assert.Equal(YarpConfigFactory.RepositoriesRouteId, route.ClusterId);
        Assert.Equal("/git-annex/{**rest}", route.Match.Path);

        var cluster = Assert.Single(YarpConfigFactory.Clusters(catalog), c => c.ClusterId == YarpConfigFactory.RepositoriesRouteId);
        Assert.Null(cluster.Destinations);
        Assert.DoesNotContain(catalog.Repositories, r => r.YarpClusterId == YarpConfigFactory.RepositoriesRouteId);
    }

    [Fact]
    public void Routes_have_no_body_size_limit()
    {
        Assert.All(YarpConfigFactory.Routes, r => Assert.Equal(-1, r.MaxRequestBodySize));
    }

    [Fact]
    public void One_cluster_per_repository_with_its_backends_as_destinations()
    {
        var options = Options();
        var clusters = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current);
        Assert.Equal(["repo:node1", "repo:node2", YarpConfigFactory.RepositoriesRouteId], clusters.Select(c => c.ClusterId));

        var first = clusters[0].Destinations!;
        Assert.Equal(2, first.Count);
        var b1 = Backend.For("node1", "http://127.0.0.1:9417");
        var b2 = Backend.For("node1", "http://127.0.0.1:9418");
        Assert.Equal("http://127.0.0.1:9417", first[b1.Id].Address);
        Assert.Equal("http://127.0.0.1:9418", first[b2.Id].Address);

        var second = Assert.Single(clusters[1].Destinations!);
        Assert.Equal(Backend.For("node2", "https://10.0.0.2:9417").Id, second.Key);
        Assert.Equal("https://10.0.0.2:9417", second.Value.Address);
    }

    [Fact]
    public void Clusters_alike_share_one_copy_of_the_settings_that_come_from_the_options_alone()
    {
        var clusters = YarpConfigFactory.Clusters(new RepositoryCatalog(Options()).Current);
        var (first, second) = (clusters[0], clusters[1]);

        // A forge's 10,000 clusters each held their own copies.
        Assert.Same(first.HealthCheck, second.HealthCheck);
        Assert.Same(first.HttpClient, second.HttpClient);
        Assert.Same(first.HttpRequest, second.HttpRequest);
        Assert.NotSame(first.Metadata, second.Metadata);
    }

    [Fact]
    public void Destination_ids_are_the_same_for_every_edge_with_the_same_configuration()
    {
        var a = YarpConfigFactory.Clusters(new RepositoryCatalog(Options()).Current);
        var b = YarpConfigFactory.Clusters(new RepositoryCatalog(Options()).Current);
        Assert.Equal(a.SelectMany(c => c.Destinations?.Keys ?? []), b.SelectMany(c => c.Destinations?.Keys ?? []));
    }

    [Fact]
    public void Load_balancing_defaults_to_power_of_two_choices()
    {
        var options = Options();
        var clusters = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current);
        Assert.Equal("PowerOfTwoChoices", clusters[0].LoadBalancingPolicy);
        Assert.Equal("RoundRobin", clusters[1].LoadBalancingPolicy);
    }

    [Fact]
    public void Health_checks_come_from_the_options()
    {
        var options = Options();
        var cluster = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current)[0];
        var active = cluster.HealthCheck!.Active!;
        Assert.False(active.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(7), active.Interval);
        Assert.Equal(TimeSpan.FromSeconds(3), active.Timeout);
        Assert.Equal("ConsecutiveFailures", active.Policy);
        Assert.Equal("4", cluster.Metadata!["ConsecutiveFailuresHealthPolicy.Threshold"]);

        var passive = cluster.HealthCheck.Passive!;
        Assert.True(passive.Enabled);
        Assert.Equal(ConnectFailurePolicy.PolicyName, passive.Policy);
        Assert.Equal(TimeSpan.FromSeconds(42), passive.ReactivationPeriod);
    }

    [Fact]
    public void Active_health_checks_are_on_by_default()
    {
        var options = Options();
        options.HealthChecks = new HealthCheckOptions();
        var cluster = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current)[0];
        Assert.True(cluster.HealthCheck!.Active!.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(10), cluster.HealthCheck.Active.Interval);
        Assert.Equal("2", cluster.Metadata!["ConsecutiveFailuresHealthPolicy.Threshold"]);
    }

    [Fact]
    public void Repositories_of_directories_are_probed_by_the_shared_prober_not_by_yarp_per_repository()
    {
        var configured = Options();
        configured.HealthChecks = new HealthCheckOptions();
        configured.Directories = [new DirectoryOptions { Path = "/srv/forge", Backends = ["http://127.0.0.1:9500"] }];
        var (effective, _, _) = RepositoryDirectories.Merge(
            configured, [[new FoundRepository("found", "0f000000-0000-4000-8000-00000000000f", "/srv/forge/found")]]);

        var clusters = YarpConfigFactory.Clusters(new RepositoryCatalog(effective).Current);

        var own = clusters.Single(c => c.ClusterId == "repo:node1").HealthCheck!;
        Assert.True(own.Active!.Enabled);
        Assert.Null(own.AvailableDestinationsPolicy);
        var found = clusters.Single(c => c.ClusterId == "repo:found").HealthCheck!;
        Assert.False(found.Active!.Enabled);
        Assert.Equal(SharedProbeDestinationsPolicy.PolicyName, found.AvailableDestinationsPolicy);
        Assert.True(found.Passive!.Enabled);
    }

    [Fact]
    public void Metadata_holds_the_repository_uuid()
    {
        var options = Options();
        var clusters = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current);
        Assert.Equal(Uuid1, clusters[0].Metadata![YarpConfigFactory.RepositoryUuidMetadata]);
        Assert.Equal(Uuid2, clusters[1].Metadata![YarpConfigFactory.RepositoryUuidMetadata]);
    }

    [Fact]
    public void Forwarding_options_reach_the_http_client_and_request()
    {
        var options = Options();
        var cluster = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current)[0];
        Assert.True(cluster.HttpClient!.DangerousAcceptAnyServerCertificate);
        Assert.Equal(12, cluster.HttpClient.MaxConnectionsPerServer);
        Assert.Equal(TimeSpan.FromMinutes(9), cluster.HttpRequest!.ActivityTimeout);
        Assert.False(cluster.HttpRequest.AllowResponseBuffering);
    }

    [Fact]
    public void Zero_connections_per_backend_means_no_limit()
    {
        var options = Options();
        options.Forwarding.MaxConnectionsPerBackend = 0;
        var cluster = YarpConfigFactory.Clusters(new RepositoryCatalog(options).Current)[0];
        Assert.Null(cluster.HttpClient!.MaxConnectionsPerServer);
    }

    [Fact]
    public void Catalog_finds_repositories_by_exact_uuid()
    {
        var catalog = new RepositoryCatalog(Options());
        Assert.Equal("node2", catalog.Find(Uuid2)!.Name);
        Assert.Null(catalog.Find(Uuid2.ToUpperInvariant()));
        Assert.Null(catalog.Find("unknown"));
    }
}
