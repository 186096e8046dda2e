using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Git;

/// <summary>
/// Pushing and cloning through the edge's git http-backend with the annex API's users, access rules and audit:
/// fetching needs <c>readonly</c>, pushing <c>full</c>; git sends credentials only after a Basic challenge.
/// </summary>
public sealed class GitPushTests
{
    private const string Password = "git-pw";

    internal static JsonObject Config(P2pNode node, JsonObject? anonymous = null)
    {
        var config = EdgeHost.ConfigFor(node);
        config["Repositories"]![0]!["GitDirectory"] = node.RepositoryPath;
        var hash = PasswordHash.Create(Password, PasswordHash.MinimumIterations);
        config["Users"] = new JsonArray(
            new JsonObject { ["Name"] = "writer", ["PasswordHash"] = hash, ["Access"] = new JsonObject { ["node1"] = "full" } },
            new JsonObject { ["Name"] = "reader", ["PasswordHash"] = hash, ["Access"] = new JsonObject { ["*"] = "readonly" } });
        config["AllowBasicAuthOverHttp"] = true;
        if (anonymous is not null)
        {
            config["Anonymous"] = anonymous;
        }

        return config;
    }

    internal static string UrlAs(EdgeHost edge, string user, string path = "/node1.git") =>
        $"http://{user}:{Password}@127.0.0.1:{edge.Port}{path}";

    [Fact]
    public async Task Push_by_a_full_user_succeeds_and_by_a_readonly_user_is_refused_with_403()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeHost.StartAsync(Config(node));
        using var dir = new TempDirectory("push");
        var clone = dir.Combine("clone");
        (await GitCloneTests.Git(dir.Path, "clone", "-q", UrlAs(edge, "reader"), clone)).EnsureSuccess("clone as reader");
        await File.WriteAllTextAsync(Path.Combine(clone, "pushed.txt"), "pushed through the edge\n", TestContext.Current.CancellationToken);
        (await GitCloneTests.Git(clone, "add", "pushed.txt")).EnsureSuccess("git add");
        (await GitCloneTests.Git(clone, "commit", "-q", "-m", "pushed")).EnsureSuccess("git commit");
        var head = (await GitCloneTests.Git(clone, "rev-parse", "HEAD")).EnsureSuccess("rev-parse").Output.Trim();

        var refused = await GitCloneTests.Git(clone, "push", "origin", "HEAD:refs/heads/topic");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("403", refused.Output, StringComparison.Ordinal);
        await edge.RequestEventAsync("GET", "/node1.git/info/refs", 403);
        await edge.EventAsync(EdgeEventIds.AccessDenied, e => e.Text("Endpoint") == "git-receive-pack-refs" && e.Text("User") == "reader");
        Assert.NotEqual(0, (await GitCloneTests.Git(node.RepositoryPath, "rev-parse", "--verify", "-q", "refs/heads/topic")).ExitCode);

        (await GitCloneTests.Git(clone, "push", UrlAs(edge, "writer", "/node1"), "HEAD:refs/heads/topic")).EnsureSuccess("push as writer");

        Assert.Equal(head, (await GitCloneTests.Git(node.RepositoryPath, "rev-parse", "refs/heads/topic")).EnsureSuccess("pushed ref").Output.Trim());
        await edge.EventAsync(EdgeEventIds.Audit, e => e.Text("AuditAction") == "git-receive-pack" && e.Text("User") == "writer" && e.Text("StatusCode") == "200");
        Assert.DoesNotContain(Password, edge.Logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anonymous_clone_follows_the_anonymous_rules_and_is_challenged_for_basic_credentials_where_denied()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("node1");
        await using var closed = await EdgeHost.StartAsync(Config(node));
        await using var open = await EdgeHost.StartAsync(Config(node, new JsonObject { ["*"] = "readonly" }));
        using var dir = new TempDirectory("anon");
        using var http = new HttpClient();

        using var challenge = await http.GetAsync(closed.Url + "/node1/info/refs?service=git-upload-pack", ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, challenge.StatusCode);
        Assert.Equal("Basic", Assert.Single(challenge.Headers.WwwAuthenticate).Scheme);
        var denied = await GitCloneTests.Git(dir.Path, "clone", "-q", closed.Url + "/node1", dir.Combine("denied"));
        Assert.NotEqual(0, denied.ExitCode);
        // Given credentials after the challenge, the same clone works.
        (await GitCloneTests.Git(dir.Path, "clone", "-q", UrlAs(closed, "reader", "/node1"), dir.Combine("reader"))).EnsureSuccess("clone as reader");

        (await GitCloneTests.Git(dir.Path, "clone", "-q", open.Url + "/node1", dir.Combine("anonymous"))).EnsureSuccess("anonymous clone where anonymous may read");
        using var config = await http.GetAsync(open.Url + "/node1/config", ct);
        Assert.Equal($"[annex]\n\tuuid = {node.Uuid}\n\turl = {open.AnnexUrl}\n", await config.Content.ReadAsStringAsync(ct));
        // Anonymous readonly may not push: git is asked for credentials.
        using var push = await http.GetAsync(open.Url + "/node1/info/refs?service=git-receive-pack", ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, push.StatusCode);
        // Nothing but git's paths: the repository's objects and other names are not served.
        using var objects = await http.GetAsync(open.Url + "/node1/objects/info/packs", ct);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, objects.StatusCode);
        using var unknown = await http.GetAsync(open.Url + "/nosuch/info/refs?service=git-upload-pack", ct);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_client_that_goes_away_mid_push_takes_git_http_backend_with_it()
    {
        await using var node = await P2pNode.StartAsync("node1");
        await using var edge = await EdgeHost.StartAsync(Config(node, new JsonObject { ["*"] = "full" }));
        using var http = new HttpClient();
        using var abort = new CancellationTokenSource();
        var body = new StalledContent();
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-git-receive-pack-request");

        var push = http.PostAsync(edge.Url + "/node1/git-receive-pack", body, abort.Token);
        await Eventually.Async(() => BackendsOf(node.RepositoryPath).Length > 0, TimeSpan.FromSeconds(20), "git http-backend started for the push");
        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => push);

        await Eventually.Async(
            () => BackendsOf(node.RepositoryPath).Length == 0, TimeSpan.FromSeconds(20), "git http-backend gone with its client",
            () => string.Join(", ", BackendsOf(node.RepositoryPath)));
        await edge.EventAsync(EdgeEventIds.GitClientGone);
    }

    [Fact]
    public async Task A_git_request_that_finds_every_backend_process_busy_is_answered_503_with_retry_after_and_the_next_is_served()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await P2pNode.StartAsync("node1");
        var config = Config(node, new JsonObject { ["*"] = "full" });
        config["Git"] = new JsonObject { ["MaxBackendProcesses"] = 1, ["BackendQueueTimeout"] = "00:00:01" };
        await using var edge = await EdgeHost.StartAsync(config);
        using var http = new HttpClient();
        using var abort = new CancellationTokenSource();
        var body = new StalledContent();
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-git-receive-pack-request");

        // A push that never ends holds the only git http-backend.
        var push = http.PostAsync(edge.Url + "/node1/git-receive-pack", body, abort.Token);
        await Eventually.Async(() => BackendsOf(node.RepositoryPath).Length > 0, TimeSpan.FromSeconds(20), "git http-backend started for the push");

        using (var busy = await http.GetAsync(edge.Url + "/node1/info/refs?service=git-upload-pack", ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(10), busy.Headers.RetryAfter?.Delta);
        }

        await edge.EventAsync(EdgeEventIds.GitBackendsBusy, e => e.Text("Repository") == "node1" && e.Number("MaxBackendProcesses") == 1);

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => push);
        await Eventually.Async(async () =>
        {
            using var served = await http.GetAsync(edge.Url + "/node1/info/refs?service=git-upload-pack", ct);
            return served.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(20), "the advertisement served once the push's process ended");
    }

    /// <summary>Live (not zombie) processes of this test process that run git http-backend for this repository.</summary>
    private static int[] BackendsOf(string repository) =>
        Directory.GetDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && IsBackendOf(pid, repository))
            .ToArray();

    private static bool IsBackendOf(int pid, string repository)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] != "Z"
                && fields[1] == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)
                && File.ReadAllText($"/proc/{pid}/cmdline").Contains("http-backend", StringComparison.Ordinal)
                && File.ReadAllText($"/proc/{pid}/environ").Contains("GIT_PROJECT_ROOT=" + repository + "\0", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A push body that sends the start of a pkt-line and then nothing more, until the request is cancelled.</summary>
    private sealed class StalledContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync("00a0"u8.ToArray(), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
