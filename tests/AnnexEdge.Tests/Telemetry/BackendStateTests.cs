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

    [Fact]
    public void The_rotation_of_a_removed_repositorys_backends_is_forgotten_and_the_others_kept()
    {
        var catalog = new RepositoryCatalog(Options("node1", "node2"));
        var watch = new HealthWatch(new EdgeMetrics(catalog), catalog);
        foreach (var repository in catalog.Repositories)
        {
            watch.Observe(new ClusterState(repository.YarpClusterId), new DestinationState(repository.Backends[0].Id));
        }

        Assert.Equal(2, watch.Known);

        catalog.Replace(new RepositoryCatalog(Options("node1")).Current);

        Assert.Equal(1, watch.Known);
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

        Assert.Equal(1, probes.Known);
        Assert.NotNull(probes.Last(models[0]));
        Assert.Null(probes.Last(models[1]));
    }
}
