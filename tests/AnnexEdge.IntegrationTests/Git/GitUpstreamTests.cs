using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Git;

/// <summary>
/// <c>GitUpstream</c>: the edge forwards git's smart-HTTP requests to another git server, here a second edge serving
/// the repository from its <c>GitDirectory</c>, while access, audit and the <c>config</c> answer stay its own.
/// </summary>
public sealed class GitUpstreamTests
{
    private const string Password = "up-pw";

    [Fact]
    public async Task Clone_and_push_through_an_upstream_git_server_keep_the_edges_own_access_and_config()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("node1");
        var upstreamConfig = EdgeHost.ConfigFor(node);
        upstreamConfig["Repositories"]![0]!["GitDirectory"] = node.RepositoryPath;
        upstreamConfig["Anonymous"] = new JsonObject { ["*"] = "full" };
        await using var upstream = await EdgeHost.StartAsync(upstreamConfig);

        var config = EdgeHost.ConfigFor(node);
        config["Repositories"]![0]!["GitUpstream"] = upstream.Url + "/node1.git/";
        config["Anonymous"] = new JsonObject { ["*"] = "readonly" };
        config["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = "writer",
            ["PasswordHash"] = PasswordHash.Create(Password, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["node1"] = "full" },
        });
        config["AllowBasicAuthOverHttp"] = true;
        await using var edge = await EdgeHost.StartAsync(config);
        using var dir = new TempDirectory("upstream");
        var clone = dir.Combine("clone");

        (await GitCloneTests.Git(dir.Path, "clone", "-q", edge.Url + "/node1", clone)).EnsureSuccess("anonymous clone through the upstream");
        // The node's repository has no commit of its own yet, only its git-annex branch.
        Assert.Equal(
            (await GitCloneTests.Git(node.RepositoryPath, "rev-parse", "refs/heads/git-annex")).EnsureSuccess("node's git-annex branch").Output.Trim(),
            (await GitCloneTests.Git(clone, "rev-parse", "refs/remotes/origin/git-annex")).EnsureSuccess("cloned git-annex branch").Output.Trim());
        await upstream.RequestEventAsync("POST", "/node1.git/git-upload-pack", 200);
        // The config is the edge's own answer, with its own URL, never the upstream's.
        using var http = new HttpClient();
        Assert.Equal($"[annex]\n\tuuid = {node.Uuid}\n\turl = {edge.AnnexUrl}\n", await http.GetStringAsync(edge.Url + "/node1/config", ct));

        await File.WriteAllTextAsync(Path.Combine(clone, "up.txt"), "through two edges\n", ct);
        (await GitCloneTests.Git(clone, "add", "up.txt")).EnsureSuccess("git add");
        (await GitCloneTests.Git(clone, "commit", "-q", "-m", "up")).EnsureSuccess("git commit");
        Assert.NotEqual(0, (await GitCloneTests.Git(clone, "push", "origin", "HEAD:refs/heads/up")).ExitCode);
        (await GitCloneTests.Git(clone, "push", $"http://writer:{Password}@127.0.0.1:{edge.Port}/node1", "HEAD:refs/heads/up")).EnsureSuccess("push as writer");

        Assert.Equal(
            (await GitCloneTests.Git(clone, "rev-parse", "HEAD")).Output.Trim(),
            (await GitCloneTests.Git(node.RepositoryPath, "rev-parse", "refs/heads/up")).EnsureSuccess("pushed ref").Output.Trim());
        await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "git-receive-pack" && e.Text("User") == "writer");
        // The client's credentials were the edge's business: the upstream saw an anonymous push.
        await upstream.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "git-receive-pack" && e.Text("User") == "(anonymous)");
        Assert.DoesNotContain(upstream.Events.Rendered, "writer", StringComparison.Ordinal);
    }
}
