using System.Diagnostics;
using System.Text.Json.Nodes;
using AnnexEdge.Clusters;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy;

namespace AnnexEdge.IntegrationTests.Directories;

/// <summary>
/// The repositories of a directory share its backends, and the edge probes each backend once per interval for all of
/// them (not once per repository): a dead backend still takes all of them out of rotation, and brings them back.
/// Their requests to a backend share its connections.
/// </summary>
public sealed class SharedProbeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Repositories_of_a_directory_behind_one_backend_cost_one_probe_per_interval_not_one_each()
    {
        using var directory = new TempDirectory("forge");
        await using var backend = RawHttpBackend.AnsweringJson("""{"timestamp":1}""");
        await using var edge = await StartOverDirectoryAsync(
            directory, 20, backend, new JsonObject { ["Interval"] = "00:00:01", ["Timeout"] = "00:00:01" });

        var watching = Stopwatch.StartNew();
        var before = Probes(backend).Count;
        await Eventually.Async(() => Probes(backend).Count >= before + 4, TimeSpan.FromSeconds(20), "four more probes", () => edge.Logs);
        var probes = Probes(backend);
        var elapsed = watching.Elapsed;

        // One per interval (1 s), give or take the one in progress at each end: per repository, it was 20 each second.
        Assert.True(probes.Count - before <= elapsed.TotalSeconds + 2, $"{probes.Count - before} probes in {elapsed}");
        // What is asked is as before, for one repository of the directory.
        var asked = Assert.Single(probes.Select(h => h.Split(' ')[1].Split('/')[2]).Distinct());
        Assert.Contains(edge.Services.GetRequiredService<RepositoryCatalog>().Repositories, r => r.Uuid == asked);
        Assert.All(probes, h => Assert.StartsWith($"POST /git-annex/{asked}/v4/gettimestamp", h, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_to_many_repositories_of_a_directory_reuse_one_connection_to_their_backend()
    {
        const int repositories = 12;
        using var directory = new TempDirectory("forge");
        await using var backend = RawHttpBackend.AnsweringJson("""{"present":false}""");
        await using var edge = await StartOverDirectoryAsync(directory, repositories, backend, new JsonObject { ["Enabled"] = false });

        var (_, key) = P2pHttp.RandomObject(1000);
        foreach (var repository in edge.Services.GetRequiredService<RepositoryCatalog>().Repositories)
        {
            Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, repository.Uuid), "checkpresent", key), cancellationToken: Ct)).Status);
        }

        // One after another, each request finds the previous one's connection idle: with a client per repository,
        // each opened its own.
        Assert.Equal(repositories, backend.Requests);
        Assert.Equal(1, backend.Connections);
    }

    [Fact]
    public async Task A_killed_backend_takes_all_repositories_of_its_directory_out_of_rotation_and_a_restarted_one_brings_them_back()
    {
        await using var directory = await P2pDirectory.StartAsync();
        string[] names = ["alpha", "beta", "gamma"];
        var uuids = new List<string>();
        foreach (var name in names)
        {
            uuids.Add(await directory.CreateRepositoryAsync(name));
        }

        await directory.RestartAsync();
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(),
            ["Directories"] = new JsonArray(new JsonObject { ["Path"] = directory.Path, ["Backends"] = new JsonArray((JsonNode)directory.Url) }),
            ["HealthChecks"] = new JsonObject { ["Interval"] = "00:00:01", ["Timeout"] = "00:00:02" },
        });
        var (_, key) = P2pHttp.RandomObject(1000);
        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, uuids[0]), "checkpresent", key), cancellationToken: Ct)).Status == 200,
            TimeSpan.FromSeconds(20), "alpha served", () => edge.Logs + directory.Logs);

        // Only what is logged from now on counts: on a slow start the first probes of the restarted backend may have
        // failed and taken it out and back already (seen in CI: the wait then matched that old event at once).
        var earlier = edge.Events.All.ToHashSet();
        directory.Kill();
        // No request is sent to them: only the probe can tell.
        await edge.EventAsync(
            EdgeEventIds.SharedBackendDown,
            e => !earlier.Contains(e) && e.RenderMessage().Contains(directory.Url, StringComparison.Ordinal),
            TimeSpan.FromSeconds(20));
        Assert.All(names, name => Assert.False(InRotation(edge, name), name));
        Assert.Equal(503, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, uuids[2]), "checkpresent", key), cancellationToken: Ct)).Status);

        await directory.RestartAsync();
        await edge.EventAsync(
            EdgeEventIds.SharedBackendUp,
            e => !earlier.Contains(e) && e.RenderMessage().Contains(directory.Url, StringComparison.Ordinal),
            TimeSpan.FromSeconds(30));
        Assert.All(names, name => Assert.True(InRotation(edge, name), name));
        foreach (var uuid in uuids)
        {
            Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, uuid), "checkpresent", key), cancellationToken: Ct)).Status);
        }
    }

    /// <summary>As bench/forge.sh makes them: a git config with an annex.uuid is all a scan looks at.</summary>
    /// <summary>An edge over <paramref name="repositories"/> repositories made in <paramref name="directory"/>, all behind <paramref name="backend"/>, once it serves them.</summary>
    private static async Task<EdgeHost> StartOverDirectoryAsync(TempDirectory directory, int repositories, RawHttpBackend backend, JsonObject healthChecks)
    {
        for (var i = 0; i < repositories; i++)
        {
            await MakeRepositoryAsync(directory.Path, $"repo{i:D2}");
        }

        var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(),
            ["Directories"] = new JsonArray(new JsonObject { ["Path"] = directory.Path, ["Backends"] = new JsonArray((JsonNode)backend.Url) }),
            ["HealthChecks"] = healthChecks,
        });
        try
        {
            await Eventually.Async(() => edge.Services.GetRequiredService<RepositoryCatalog>().Repositories.Count == repositories,
                TimeSpan.FromSeconds(10), "the directory's repositories served", () => edge.Logs);
            return edge;
        }
        catch
        {
            await edge.DisposeAsync();
            throw;
        }
    }

    internal static async Task MakeRepositoryAsync(string directory, string name)
    {
        var git = Directory.CreateDirectory(Path.Combine(directory, name, ".git")).FullName;
        await File.WriteAllTextAsync(Path.Combine(git, "config"), $"[annex]\n\tuuid = {Guid.NewGuid()}\n", Ct);
    }

    private static List<string> Probes(RawHttpBackend backend) =>
        backend.Exchanges.Select(e => e.Head).Where(h => h.Contains("/gettimestamp", StringComparison.Ordinal)).ToList();

    private static bool InRotation(EdgeHost edge, string name)
    {
        var repository = edge.Services.GetRequiredService<RepositoryCatalog>().Repositories.Single(r => r.Name == name);
        edge.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(repository.YarpClusterId, out var cluster);
        return NodeClient.IsInRotation(cluster!.Destinations[repository.Backends[0].Id]);
    }
}
