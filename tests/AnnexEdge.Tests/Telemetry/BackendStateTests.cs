using AnnexEdge.Configuration;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Tests.Telemetry;

/// <summary>State kept per backend follows the catalog: a directory's repositories come and go for months.</summary>
public sealed class BackendStateTests
{
    private static AnnexEdgeOptions Options(params string[] names) => new()
    {
        Repositories = names.Select((name, i) => new RepositoryOptions
        {
            Name = name,
            Uuid = $"11111111-0000-4000-8000-00000000000{i + 1}",
            Backends = [$"http://127.0.0.1:{9001 + i}"],
        }).ToList(),
    };

    /// <summary>Reports the first backend of <paramref name="repository"/> in or out of rotation.</summary>
    private static void Observe(HealthWatch watch, Repository repository, bool up)
    {
        var destination = new DestinationState(repository.Backends[0].Id);
        if (!up)
        {
            destination.Health.Active = DestinationHealth.Unhealthy;
        }

        watch.Observe(new ClusterState(repository.YarpClusterId), destination);
    }

    [Fact]
    public void The_rotation_of_a_removed_repositorys_backends_is_forgotten_and_the_others_kept()
    {
        var catalog = new RepositoryCatalog(Options("node1", "node2"));
        var watch = new HealthWatch(new EdgeMetrics(catalog), catalog);
        var moves = 0;
        watch.RotationChanged += () => moves++;
        foreach (var repository in catalog.Repositories)
        {
            Observe(watch, repository, up: true);
        }

        catalog.Replace(new RepositoryCatalog(Options("node1")).Current);
        catalog.Replace(new RepositoryCatalog(Options("node1", "node2")).Current);
        var (node1, node2) = (catalog.Repositories[0], catalog.Repositories[1]);

        // A move counts only from a known rotation: node1's was kept, node2 came back unknown and is watched afresh.
        Observe(watch, node1, up: false);
        Assert.Equal(1, moves);
        Observe(watch, node2, up: false);
        Assert.Equal(1, moves);
        Observe(watch, node2, up: true);
        Assert.Equal(2, moves);
    }

    [Fact]
    public void The_probe_of_an_address_no_repository_has_any_more_is_forgotten_and_the_others_kept()
    {
        var catalog = new RepositoryCatalog(Options("node1", "node2"));
        var probes = new ProbeTimes(catalog);
        var models = catalog.Repositories.Select(r => new DestinationModel(new DestinationConfig { Address = r.Backends[0].Address })).ToArray();
        foreach (var model in models)
        {
            probes.Record(model, new ProbeResult(TimeSpan.FromMilliseconds(3), DateTimeOffset.UnixEpoch, 200));
        }

        catalog.Replace(new RepositoryCatalog(Options("node1")).Current);

        Assert.NotNull(probes.Last(models[0]));
        Assert.Null(probes.Last(models[1]));
    }
}
