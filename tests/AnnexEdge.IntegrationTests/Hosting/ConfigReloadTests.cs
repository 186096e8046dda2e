using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Clusters;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;

namespace AnnexEdge.IntegrationTests.Hosting;

/// <summary>Reloading the configuration with real p2phttp nodes: nothing in flight is cut, the next request sees the change.</summary>
public sealed class ConfigReloadTests
{
    /// <summary>As the issue asks: a transfer of the size users make, streamed from a seed (nothing held in memory).</summary>
    private const long Size = 1L << 30;
    private const long PauseAt = 64L * 1024 * 1024;

    [Fact]
    public async Task A_reload_during_a_1_GiB_upload_lets_it_finish_and_the_next_requests_use_the_new_config()
    {
        var cancel = TestContext.Current.CancellationToken;
        await using var a = await P2pNode.StartAsync("a");
        await using var b = await P2pNode.StartAsync("b");
        var secondServer = await a.AddServerAsync();
        var first = EdgeProcess.ConfigFor(a);
        first["Repositories"]![0]!["Backends"] = new JsonArray((JsonNode)a.Urls[0]);
        await using var edge = await EdgeHost.StartAsync(first);
        var apiA = P2pHttp.Api(edge.Url, a.Uuid);
        var apiB = P2pHttp.Api(edge.Url, b.Uuid);
        var generated = new GeneratedContent(Size, seed: 17);
        var key = generated.Key;
        Assert.Equal(404, (await P2pHttp.PostAsync(P2pHttp.Url(apiB, "checkpresent", key), cancellationToken: cancel)).Status);

        // The upload goes to a's first server and stops partway until the reload is done.
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var content = generated.Body(async written =>
        {
            if (written == PauseAt)
            {
                paused.SetResult();
                await resume.Task;
            }
        });
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        content.Headers.Add("X-git-annex-data-length", Size.ToString());
        var put = http.PostAsync(P2pHttp.Url(apiA, "put", key), content, cancel);
        await paused.Task.WaitAsync(TimeSpan.FromSeconds(60), cancel);

        // The new config adds b and moves a to its second server.
        var second = EdgeProcess.ConfigFor(a, b);
        second["Repositories"]![0]!["Backends"] = new JsonArray((JsonNode)secondServer);
        await edge.RewriteConfigAsync(second);
        await edge.EventAsync(EdgeEventIds.ConfigReloaded);
        Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(apiB, "checkpresent", key), cancellationToken: cancel)).Status);

        resume.SetResult();
        using (var answer = await put)
        {
            // p2phttp checks the key's SHA-256 before it answers stored: the bytes arrived whole and unchanged.
            Assert.Equal("{\"plusuuids\":[],\"stored\":true}", await answer.Content.ReadAsStringAsync(cancel));
        }

        // Only the second server is left to answer for a: the edge asks it, as the new config says.
        a.KillServer(0);
        Assert.True(await P2pHttp.IsPresentAsync(apiA, key), edge.Logs);

        // An invalid edit is refused, said why, and the running config goes on serving both repositories.
        var invalid = EdgeProcess.ConfigFor(a, b);
        invalid["Repositories"]![1]!["Uuid"] = "not-a-uuid";
        await edge.RewriteConfigAsync(invalid);
        var refused = await edge.EventAsync(EdgeEventIds.ConfigReloadRefused);
        Assert.Contains("not-a-uuid", refused.RenderMessage(), StringComparison.Ordinal);
        Assert.True(await P2pHttp.IsPresentAsync(apiA, key), edge.Logs);
        Assert.Equal(200, (await P2pHttp.PostAsync(P2pHttp.Url(apiB, "checkpresent", key), cancellationToken: cancel)).Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SIGHUP_reloads_instead_of_ending_the_edge_also_when_started_with_hangups_ignored(bool underNohup)
    {
        await using var a = await P2pNode.StartAsync("a");
        await using var edge = await EdgeProcess.StartAsync(EdgeProcess.ConfigFor(a), hangupIgnored: underNohup);

        edge.Signal("HUP");

        await edge.LogLineAsync("nothing to reload");
        Assert.True(await P2pHttp.AnswersAsync(P2pHttp.Api(edge.Url, a.Uuid), TimeSpan.FromSeconds(10)), edge.Logs);
        Assert.False(edge.HasExited);
    }
}
