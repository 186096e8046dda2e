using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Directories;

/// <summary>
/// <c>Directories</c> in external mode, with a real <c>git annex p2phttp --directory</c> as the backend: repositories
/// that come and go in the directory are served and dropped by the running edge, annex API and git alike.
/// </summary>
public sealed class DirectoryTests
{
    [Fact]
    public async Task A_repository_made_while_the_edge_runs_is_served_and_a_removed_one_answers_404()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var directory = await P2pDirectory.StartAsync();
        var first = await directory.CreateRepositoryAsync("proj-a");
        await directory.RestartAsync();
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(),
            ["Directories"] = new JsonArray(new JsonObject
            {
                ["Path"] = directory.Path,
                ["Backends"] = new JsonArray((JsonNode)directory.Url),
                ["RescanInterval"] = "00:00:01",
            }),
        });
        var (data, key) = P2pHttp.RandomObject(100_000);
        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, first), "checkpresent", key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(10), "proj-a served", () => edge.Logs);

        var uuid = await directory.CreateRepositoryAsync("proj-b");
        var api = P2pHttp.Api(edge.Url, uuid);
        await edge.EventAsync(EdgeEventIds.DirectoryRepositoryAdded, e => e.RenderMessage().Contains("proj-b", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        // The operator's part in external mode: the running p2phttp --directory learns of the new repository.
        await directory.RestartAsync();
        // The edge's kept-alive connections to the old process may fail a request or two (502): wait for an answer.
        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(10), "proj-b served", () => edge.Logs + directory.Logs);

        await P2pHttp.PutObjectAsync(api, key, data);
        Assert.True(await P2pHttp.IsPresentAsync(api, key), directory.Logs);
        using var clones = new TempDirectory("clone");
        var clone = clones.Combine("proj-b");
        (await ProcessRunner.RunAsync("git", ["clone", "-q", $"{edge.Url}/proj-b", clone], clones.Path, null, TimeSpan.FromMinutes(2), cancel)).EnsureSuccess("git clone through the edge");
        Assert.Equal("This is proj-b.\n", await File.ReadAllTextAsync(Path.Combine(clone, "README"), cancel));
        Assert.Contains(uuid, await P2pHttp.Http.GetStringAsync($"{edge.Url}/proj-b/config", cancel), StringComparison.Ordinal);

        Directory.Delete(Path.Combine(directory.Path, "proj-b"), recursive: true);
        await edge.EventAsync(EdgeEventIds.DirectoryRepositoryRemoved, e => e.RenderMessage().Contains("proj-b", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(404, (await P2pHttp.PostAsync(P2pHttp.Url(api, "checkpresent", key), cancellationToken: cancel)).Status);
        using var gone = await P2pHttp.Http.GetAsync($"{edge.Url}/proj-b/info/refs?service=git-upload-pack", cancel);
        Assert.Equal(404, (int)gone.StatusCode);
        Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, first), "checkpresent", key), cancellationToken: cancel)).Status);
    }

    [Fact]
    public async Task A_name_pattern_rule_applies_to_repositories_of_a_directory()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var directory = await P2pDirectory.StartAsync();
        var open = await directory.CreateRepositoryAsync("proj-open");
        var closed = await directory.CreateRepositoryAsync("other");
        await directory.RestartAsync();
        await using var edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Repositories"] = new JsonArray(),
            ["Directories"] = new JsonArray(new JsonObject { ["Path"] = directory.Path, ["Backends"] = new JsonArray((JsonNode)directory.Url) }),
            ["Anonymous"] = new JsonObject { ["proj-*"] = "readonly" },
        });
        var key = P2pHttp.RandomObject(10).Key;

        await Eventually.Async(
            async () => (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, open), "checkpresent", key), cancellationToken: cancel)).Status == 200,
            TimeSpan.FromSeconds(10), "proj-open readable anonymously", () => edge.Logs);
        Assert.Equal(403, (await P2pHttp.PostAsync(P2pHttp.Url(P2pHttp.Api(edge.Url, closed), "checkpresent", key), cancellationToken: cancel)).Status);
    }
}
