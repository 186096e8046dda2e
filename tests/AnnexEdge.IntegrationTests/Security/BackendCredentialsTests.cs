using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// Edge → node credentials against a real <c>git annex p2phttp --authenv-http</c> that admits no anonymous client:
/// the node knows the user <c>edge</c> (full) and <c>alice</c> (readonly there), both with <see cref="NodePassword"/>.
/// </summary>
public sealed class BackendCredentialsTests
{
    private const string NodePassword = "node-pw-Ü";

    private static readonly Dictionary<string, string?> NodeUsers = new() { ["edge"] = null, ["alice"] = "readonly" };

    [Fact]
    public async Task A_real_client_copies_gets_and_drops_through_the_edge_on_a_node_that_admits_only_the_edge()
    {
        await using var node = await P2pNode.StartAsync("node1");
        node.KillServer(0); // the fixture's --wideopen server: only the authenv one serves the repository
        using var authenv = await AuthenvServer.StartAsync(node, NodeUsers, NodePassword);
        var config = ConfigOn(node, authenv);
        config["Repositories"]![0]!["BackendUser"] = "edge";
        config["Repositories"]![0]!["BackendPassword"] = NodePassword;
        config["Anonymous"] = new JsonObject { ["*"] = "full" };
        await using var edge = await EdgeHost.StartAsync(config);
        await using var client = await AnnexClient.CloneAsync(node, edge.AnnexUrl);
        var key = await client.AddRandomFileAsync("file.bin", 200_000);

        (await client.GitAsync("annex", "copy", "--to", "origin", "file.bin")).EnsureSuccess("copy through the edge");
        Assert.True(await node.HasKeyAsync(key), "the copy is on the node");
        (await client.GitAsync("annex", "drop", "file.bin")).EnsureSuccess("drop (locks the copy on origin through the edge)");
        (await client.GitAsync("annex", "get", "--from", "origin", "file.bin")).EnsureSuccess("get through the edge");
        (await client.GitAsync("annex", "drop", "--from", "origin", "file.bin")).EnsureSuccess("drop from origin through the edge");
        Assert.False(await node.HasKeyAsync(key), "the drop removed the node's copy");

        // Probes go through the same credentials: without them the node answers 401 and the backend would turn unhealthy.
        var backend = await WaitForActiveHealthAsync(edge, authenv.Url, "Healthy", TimeSpan.FromSeconds(10));
        Assert.True((bool)backend["available"]!, backend.ToJsonString());

        // The node itself refuses a client that comes without the edge's credentials.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var direct = await http.PostAsync($"{authenv.Url}/git-annex/{node.Uuid}/v4/gettimestamp?clientuuid={AuthMatrix.ClientUuid}", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, direct.StatusCode);
        await using var bypass = await AnnexClient.CloneAsync(node, $"annex+{authenv.Url}/git-annex/", "bypass");
        var bypassKey = await bypass.AddRandomFileAsync("direct.bin", 10_000);
        var copy = await bypass.GitAsync("annex", "copy", "--to", "origin", "direct.bin");
        Assert.NotEqual(0, copy.ExitCode);
        Assert.False(await node.HasKeyAsync(bypassKey), "a client straight at the node stored nothing");
    }

    [Fact]
    public async Task A_clients_own_credentials_reach_the_node_only_with_ForwardClientAuthorization()
    {
        await using var node = await P2pNode.StartAsync("node1");
        node.KillServer(0);
        using var authenv = await AuthenvServer.StartAsync(node, NodeUsers, NodePassword);
        var ct = TestContext.Current.CancellationToken;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var alice = AuthMatrix.Basic("alice", NodePassword);

        // Edge credentials: alice is full on the edge, so her put is allowed there; the node stores it only if it
        // sees the edge's user, since it knows alice as readonly.
        var withBackendUser = ConfigOn(node, authenv);
        withBackendUser["Repositories"]![0]!["BackendUser"] = "edge";
        withBackendUser["Repositories"]![0]!["BackendPassword"] = NodePassword;
        await using (var edge = await EdgeHost.StartAsync(withBackendUser))
        {
            var (key, content) = NewObject();
            using var put = await SendAsync(http, edge.Url, PutPath(node, key), alice, content);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            Assert.Contains("\"stored\":true", Compact(await put.Content.ReadAsStringAsync(ct)));
            Assert.True(await node.HasKeyAsync(key), "stored as the edge's user");
            using var remove = await SendAsync(http, edge.Url, $"/git-annex/{node.Uuid}/v4/remove?key={key}&clientuuid={AuthMatrix.ClientUuid}", alice, null);
            Assert.Equal(HttpStatusCode.OK, remove.StatusCode);
            Assert.False(await node.HasKeyAsync(key), "removed as the edge's user");
        }

        // Neither: alice's header is dropped, so the node sees an anonymous client and wants credentials.
        var neither = ConfigOn(node, authenv);
        neither["HealthChecks"] = new JsonObject { ["Enabled"] = false };
        await using (var edge = await EdgeHost.StartAsync(neither))
        {
            using var checkpresent = await SendAsync(http, edge.Url, CheckPresentPath(node), alice, null);
            Assert.Equal(HttpStatusCode.Unauthorized, checkpresent.StatusCode);
        }

        // ForwardClientAuthorization: the node sees alice herself, readonly there: she may read but not store.
        // (Probes carry no client credentials, so a node that admits only users would fail them: probes are off.)
        var forwarding = ConfigOn(node, authenv);
        forwarding["Repositories"]![0]!["ForwardClientAuthorization"] = true;
        forwarding["HealthChecks"] = new JsonObject { ["Enabled"] = false };
        await using (var edge = await EdgeHost.StartAsync(forwarding))
        {
            using var checkpresent = await SendAsync(http, edge.Url, CheckPresentPath(node), alice, null);
            Assert.Equal(HttpStatusCode.OK, checkpresent.StatusCode);
            var (key, content) = NewObject();
            using var put = await SendAsync(http, edge.Url, PutPath(node, key), alice, content);
            Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
            Assert.False(await node.HasKeyAsync(key), "alice is readonly on the node");
        }
    }

    [Fact]
    public async Task A_reload_that_changes_the_backend_password_sends_the_new_one_with_the_next_request()
    {
        await using var node = await P2pNode.StartAsync("node1");
        node.KillServer(0);
        using var authenv = await AuthenvServer.StartAsync(node, NodeUsers, NodePassword);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var alice = AuthMatrix.Basic("alice", NodePassword);
        var config = ConfigOn(node, authenv);
        config["Repositories"]![0]!["BackendUser"] = "edge";
        config["Repositories"]![0]!["BackendPassword"] = "an old password";
        config["HealthChecks"] = new JsonObject { ["Enabled"] = false };
        await using var edge = await EdgeHost.StartAsync(config);
        using (var before = await SendAsync(http, edge.Url, CheckPresentPath(node), alice, null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, before.StatusCode);
        }

        // The operator fixes the password. YARP keeps a cluster's client while its HttpClient settings are unchanged:
        // the new password must not wait for a restart.
        config["Repositories"]![0]!["BackendPassword"] = NodePassword;
        await edge.RewriteConfigAsync(config);
        await edge.EventAsync(EdgeEventIds.ConfigReloaded);
        using var after = await SendAsync(http, edge.Url, CheckPresentPath(node), alice, null);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    /// <summary>The node's repository behind the authenv server only; alice is a full user of the edge.</summary>
    private static JsonObject ConfigOn(P2pNode node, AuthenvServer authenv)
    {
        var config = EdgeHost.ConfigFor(node);
        var repository = config["Repositories"]![0]!.AsObject();
        repository["Backends"] = new JsonArray(authenv.Url);
        repository["Jobs"] = 32; // AuthenvServer's --jobs
        config["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = "alice",
            ["PasswordHash"] = PasswordHash.Create(NodePassword, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["*"] = "full" },
        });
        config["AllowBasicAuthOverHttp"] = true;
        return config;
    }

    private static string CheckPresentPath(P2pNode node) => $"/git-annex/{node.Uuid}/v4/checkpresent?key={NewObject().Key}&clientuuid={AuthMatrix.ClientUuid}";

    private static string PutPath(P2pNode node, string key) => $"/git-annex/{node.Uuid}/v4/put?key={key}&clientuuid={AuthMatrix.ClientUuid}";

    private static (string Key, byte[] Content) NewObject()
    {
        var content = Encoding.UTF8.GetBytes("backend credentials " + Guid.NewGuid());
        return ($"SHA256E-s{content.Length}--{Convert.ToHexStringLower(SHA256.HashData(content))}", content);
    }

    private static string Compact(string json) => json.Replace(" ", "", StringComparison.Ordinal);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string baseUrl, string path, AuthenticationHeaderValue credentials, byte[]? body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + path);
        request.Headers.Authorization = credentials;
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.Add("X-git-annex-data-length", body.Length.ToString());
        }

        return await http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private static async Task<JsonNode> WaitForActiveHealthAsync(EdgeHost edge, string address, string wanted, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        JsonNode backend;
        do
        {
            backend = (await edge.StatusAsync())["repositories"]!.AsArray().SelectMany(r => r!["backends"]!.AsArray()).Single(b => (string?)b!["address"] == address)!;
            if ((string?)backend["active"] == wanted)
            {
                return backend;
            }

            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);

        throw new TimeoutException($"backend {address} was not actively {wanted} within {limit}: {backend.ToJsonString()}\n{edge.Logs}");
    }
}
