using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Directories;

/// <summary>A repository removed from a directory stops being exported in <c>/metrics</c>, rather than keep its last values.</summary>
public sealed class RemovedRepositoryMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_series_of_a_repository_removed_from_its_directory_are_no_longer_exported()
    {
        using var directory = new TempDirectory("forge");
        await SharedProbeTests.MakeRepositoryAsync(directory.Path, "kept");
        await SharedProbeTests.MakeRepositoryAsync(directory.Path, "gone");
        await using var backend = RawHttpBackend.AnsweringJson("""{"present":false}""");
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(),
            ["Directories"] = new JsonArray(new JsonObject
            {
                ["Path"] = directory.Path,
                ["Backends"] = new JsonArray((JsonNode)backend.Url),
                ["RescanInterval"] = "00:00:01",
            }),
        });
        await edge.EventAsync(EdgeEventIds.DirectoryRepositoryAdded, e => e.RenderMessage().Contains("gone", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        var before = await ScrapeAsync(edge);
        Assert.Equal(1, before.Value("annexedge_backend_up", ("repository", "gone")));
        Assert.Equal(1, before.Value("annexedge_backend_up", ("repository", "kept")));

        Directory.Delete(Path.Combine(directory.Path, "gone"), recursive: true);
        await edge.EventAsync(EdgeEventIds.DirectoryRepositoryRemoved, e => e.RenderMessage().Contains("gone", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        var after = await ScrapeAsync(edge);
        Assert.DoesNotContain(after.Samples, s => s.Labels.GetValueOrDefault("repository") == "gone" || s.Labels.GetValueOrDefault("target") == "gone");
        Assert.Equal(1, after.Value("annexedge_backend_up", ("repository", "kept")));
    }

    private static async Task<PrometheusText> ScrapeAsync(EdgeHost edge) =>
        PrometheusText.Parse(await P2pHttp.Http.GetStringAsync(edge.Url + "/metrics", Ct));
}
