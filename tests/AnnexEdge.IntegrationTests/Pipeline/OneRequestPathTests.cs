using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Routing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Pipeline;

/// <summary>
/// An edge that is gateway to a cluster of two fake nodes, which also serves each node as a repository: every
/// request the edge makes to a node is recorded by the node.
/// </summary>
public sealed class RecordingNodes : IAsyncLifetime
{
    public const string GatewayUuid = "9a7e0000-0000-4000-8000-00000000ed9e";
    public const string ClusterUuid = "ac000000-0000-8000-8000-0000000000c1";
    public const string ClientUuid = "c1e00000-0000-4000-8000-000000000001";
    public const string Key = "SHA256E-s11--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    /// <summary>A small key no node has: checkpresent says so for it alone.</summary>
    public const string AbsentKey = "SHA256E-s11--ab343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    /// <summary>A key too large to be put without asking the nodes' offsets (2 MiB).</summary>
    public const string LargeKey = "SHA256E-s2097152--5647f05ec18958947d32874eeb788fa396a05d0bab7c1b71f112ceb7e9b31eee.bin";
    public static readonly string[] NodeUuids = ["0d000000-0000-4000-8000-0000000000a1", "0d000000-0000-4000-8000-0000000000a2"];

    public WireMockServer[] Servers { get; } = [WireMockServer.Start(), WireMockServer.Start()];

    public EdgeHost Edge { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask InitializeAsync()
    {
        for (var i = 0; i < Servers.Length; i++)
        {
            var node = Servers[i];
            var path = $"/git-annex/{NodeUuids[i]}";
            Answer(node, "checkpresent", """{"present":true}""");
            node.Given(Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher("/git-annex/*/v*/checkpresent")).WithParam("key", AbsentKey).UsingPost())
                .AtPriority(-1)
                .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json;charset=utf-8").WithBody("""{"present":false}"""));
            Answer(node, "remove", """{"plusuuids":[],"removed":true}""");
            Answer(node, "putoffset", """{"offset":0}""");
            Answer(node, "put", """{"plusuuids":[],"stored":true}""");
            Answer(node, "gettimestamp", """{"timestamp":1000}""");
            node.Given(Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher($"{path}/v*/key/*")).UsingGet())
                .RespondWith(Response.Create().WithStatusCode(200).WithHeader("X-git-annex-data-length", "11")
                    .WithHeader("Content-Type", "application/octet-stream").WithBody("hello world"));
        }

        Edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Uuid"] = GatewayUuid,
            ["Repositories"] = new JsonArray(Enumerable.Range(0, Servers.Length).Select(i => (JsonNode)new JsonObject
            {
                ["Name"] = $"node{i + 1}",
                ["Uuid"] = NodeUuids[i],
                ["Backends"] = new JsonArray(Servers[i].Url!),
                ["MaxLocks"] = 100,
            }).ToArray()),
            ["Clusters"] = new JsonArray(new JsonObject
            {
                ["Name"] = "mycluster",
                ["Uuid"] = ClusterUuid,
                ["Nodes"] = new JsonArray("node1", "node2"), // the cluster's nodes, by Name
            }),
            ["Locking"] = new JsonObject { ["TokenKey"] = EdgeProcess.TestTokenKey },
            ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
        });
    }

    private static void Answer(WireMockServer node, string endpoint, string json) =>
        node.Given(Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher($"/git-annex/*/v*/{endpoint}")).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json;charset=utf-8").WithBody(json));

    /// <summary>The path and raw query of every request the node received since it was last cleared, once it logged at least this many.</summary>
    public async Task<string[]> ReceivedAsync(int node, int atLeast)
    {
        // WireMock may log a request a moment after it answered it.
        await Eventually.Async(() => Servers[node].LogEntries.Count >= atLeast, TimeSpan.FromSeconds(10), $"node {node + 1} logged {atLeast} requests");
        return Servers[node].LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => e.RequestMessage.Path + e.RequestMessage.RawQuery).ToArray();
    }

    public void Clear()
    {
        foreach (var node in Servers)
        {
            node.ResetLogEntries();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Edge.DisposeAsync();
        foreach (var node in Servers)
        {
            node.Dispose();
        }
    }
}

/// <summary>
/// Repositories, clusters and the gateway itself take one request path: the same request log, the same backend
/// requests written from what the edge parsed, and the gateway on the path of every node request it makes.
/// </summary>
[Collection(nameof(RecordingNodes))]
public sealed class OneRequestPathTests(RecordingNodes lab) : IClassFixture<RecordingNodes>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Scalar(LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var value) && value is ScalarValue { Value: var v } ? Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)! : "";

    private string BackendIdOf(int node) =>
        lab.Edge.Services.GetRequiredService<RepositoryCatalog>().Repositories[node].Backends[0].Id;

    [Fact]
    public async Task A_request_to_a_repository_a_cluster_and_the_gateway_each_log_one_event_with_every_field()
    {
        // A repository: proxied by YARP.
        var repoPath = $"/git-annex/{RecordingNodes.NodeUuids[0]}/v4/checkpresent?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}";
        using (var answer = await lab.Http.PostAsync(new Uri(lab.Edge.Url + repoPath), null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        var repo = await lab.Edge.RequestEventAsync("POST", $"/git-annex/{RecordingNodes.NodeUuids[0]}/v4/checkpresent", 200);
        Assert.Equal(RecordingNodes.NodeUuids[0], Scalar(repo, "Uuid"));
        Assert.Equal("node1", Scalar(repo, "Repository"));
        Assert.Equal("checkpresent", Scalar(repo, "Endpoint"));
        Assert.Equal(RecordingNodes.Key, Scalar(repo, "Key"));
        Assert.Equal(BackendIdOf(0), Scalar(repo, "Backend"));
        Assert.Equal("0", Scalar(repo, "BytesIn"));
        Assert.Equal("""{"present":true}""".Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(repo, "BytesOut"));
        Assert.True(repo.Properties.ContainsKey("Elapsed"));

        // A cluster: an upload fanned out to both nodes.
        var putPath = $"/git-annex/{RecordingNodes.ClusterUuid}/v4/put?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}";
        using (var body = new ByteArrayContent("hello world"u8.ToArray()))
        {
            body.Headers.TryAddWithoutValidation("X-git-annex-data-length", "11");
            using var answer = await lab.Http.PostAsync(new Uri(lab.Edge.Url + putPath), body, Ct);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        // Other tests of this class put other keys to the cluster.
        var cluster = await lab.Edge.EventAsync(
            e => e.IsRequest("POST", $"/git-annex/{RecordingNodes.ClusterUuid}/v4/put", 200) && Scalar(e, "Key") == RecordingNodes.Key);
        Assert.Equal(RecordingNodes.ClusterUuid, Scalar(cluster, "Uuid"));
        Assert.Equal("mycluster", Scalar(cluster, "Cluster"));
        Assert.Equal("put", Scalar(cluster, "Endpoint"));
        Assert.Equal(RecordingNodes.Key, Scalar(cluster, "Key"));
        Assert.Equal([BackendIdOf(0), BackendIdOf(1)], Scalar(cluster, "Backend").Split(',').Order(StringComparer.Ordinal));
        Assert.Equal("11", Scalar(cluster, "BytesIn"));
        Assert.NotEqual("0", Scalar(cluster, "BytesOut"));
        Assert.True(cluster.Properties.ContainsKey("Elapsed"));

        // The gateway itself: answered by the edge alone.
        var gatewayPath = $"/git-annex/{RecordingNodes.GatewayUuid}/v4/checkpresent?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}";
        using (var answer = await lab.Http.PostAsync(new Uri(lab.Edge.Url + gatewayPath), null, Ct))
        {
            Assert.Equal("""{"present":false}""", await answer.Content.ReadAsStringAsync(Ct));
        }

        var gateway = await lab.Edge.RequestEventAsync("POST", $"/git-annex/{RecordingNodes.GatewayUuid}/v4/checkpresent", 200);
        Assert.Equal(RecordingNodes.GatewayUuid, Scalar(gateway, "Uuid"));
        Assert.Equal("gateway", Scalar(gateway, "Repository"));
        Assert.Equal("checkpresent", Scalar(gateway, "Endpoint"));
        Assert.Equal(RecordingNodes.Key, Scalar(gateway, "Key"));
        Assert.Equal("edge", Scalar(gateway, "Backend"));
        Assert.Equal("0", Scalar(gateway, "BytesIn"));
        Assert.Equal("""{"present":false}""".Length.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(gateway, "BytesOut"));
    }

    [Theory]
    // git-annex's server reads the first key after a ';' too: the edge must validate that one and send only it.
    [InlineData("x=1;key={KEY}&key=SHA256E-s1--decoy&clientuuid={CLIENT}&evil=1")]
    [InlineData("key={KEY}&clientuuid={CLIENT}&clientuuid=ffffffff-0000-4000-8000-000000000000&offset=5&lockid=x")]
    [InlineData("key=[{KEY64}]&clientuuid={CLIENT};timestamp=1&associatedfile=[Zm9v]")]
    public async Task A_backend_sees_exactly_the_parameters_the_edge_validated(string query)
    {
        query = query.Replace("{KEY}", RecordingNodes.Key, StringComparison.Ordinal)
            .Replace("{KEY64}", AnnexEdge.Protocol.Base64Bracket.Encode(RecordingNodes.Key)[1..^1], StringComparison.Ordinal)
            .Replace("{CLIENT}", RecordingNodes.ClientUuid, StringComparison.Ordinal);
        lab.Clear();

        // A repository.
        using (var answer = await lab.Http.PostAsync(new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.NodeUuids[0]}/v4/remove?{query}"), null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        Assert.Equal(
            [$"/git-annex/{RecordingNodes.NodeUuids[0]}/v4/remove?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}"],
            await lab.ReceivedAsync(0, 1));

        // A cluster: each node gets the request for itself, with the gateway added to bypass.
        lab.Clear();
        using (var answer = await lab.Http.PostAsync(new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.ClusterUuid}/v4/remove?{query}"), null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(
                [$"/git-annex/{RecordingNodes.NodeUuids[i]}/v3/remove?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}&bypass={RecordingNodes.GatewayUuid}"],
                await lab.ReceivedAsync(i, 1));
        }
    }

    [Theory]
    [InlineData(RecordingNodes.Key)]
    // Without a size the nodes are asked with checkpresent first.
    [InlineData("SHA256E--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin")]
    public async Task Every_request_a_cluster_get_makes_to_nodes_carries_the_gateway_in_bypass(string key)
    {
        lab.Clear();
        var path = $"/git-annex/{RecordingNodes.ClusterUuid}/v4/key/{key}?clientuuid={RecordingNodes.ClientUuid}&bypass=0b000000-0000-4000-8000-000000000001";
        using (var answer = await lab.Http.GetAsync(new Uri(lab.Edge.Url + path), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("hello world", await answer.Content.ReadAsStringAsync(Ct));
        }

        // Sized: one GET of the first node; unsized: a checkpresent of each node, then the GET.
        var sized = key == RecordingNodes.Key;
        var sent = (await lab.ReceivedAsync(0, sized ? 1 : 2)).Concat(await lab.ReceivedAsync(1, sized ? 0 : 1)).ToArray();
        Assert.NotEmpty(sent);
        Assert.All(sent, request =>
        {
            Assert.Contains("bypass=0b000000-0000-4000-8000-000000000001", request, StringComparison.Ordinal);
            Assert.Contains($"bypass={RecordingNodes.GatewayUuid}", request, StringComparison.Ordinal);
        });
        Assert.Contains(sent, r => r.Contains("/key/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_clients_putoffset_then_put_of_a_large_key_to_a_cluster_reach_each_node_as_one_putoffset_then_one_put()
    {
        // p2phttp leaves a put unanswered when it comes while the key's transfer lock is still held after a putoffset:
        // the gateway puts what the client's putoffset found, without asking again.
        lab.Clear();
        var query = $"?key={RecordingNodes.LargeKey}&clientuuid={RecordingNodes.ClientUuid}";
        await PutOffsetThenPutAsync(query, 2 << 20);

        for (var i = 0; i < RecordingNodes.NodeUuids.Length; i++)
        {
            Assert.Equal(["putoffset", "put"], await EndpointsAsync(i, 2));
        }
    }

    [Fact]
    public async Task A_clients_putoffset_of_a_small_key_to_a_cluster_asks_the_nodes_with_checkpresent_which_takes_no_transfer_lock()
    {
        lab.Clear();
        var query = $"?key={RecordingNodes.AbsentKey}&clientuuid={RecordingNodes.ClientUuid}";
        await PutOffsetThenPutAsync(query, 11);

        for (var i = 0; i < RecordingNodes.NodeUuids.Length; i++)
        {
            Assert.Equal(["checkpresent", "put"], await EndpointsAsync(i, 2));
        }
    }

    [Fact]
    public async Task A_clients_putoffset_of_a_small_key_every_node_has_is_answered_alreadyhave_from_checkpresent()
    {
        lab.Clear();
        using var offset = await lab.Http.PostAsync(
            new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.ClusterUuid}/v4/putoffset?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}"), null, Ct);
        var answer = await offset.Content.ReadAsStringAsync(Ct);
        Assert.Contains("\"alreadyhave\":true", answer, StringComparison.Ordinal);
        Assert.All(RecordingNodes.NodeUuids, u => Assert.Contains(u, answer, StringComparison.Ordinal));
        for (var i = 0; i < RecordingNodes.NodeUuids.Length; i++)
        {
            Assert.Equal(["checkpresent"], await EndpointsAsync(i, 1));
        }
    }

    [Fact]
    public async Task A_clients_putoffset_of_a_small_key_to_a_node_is_answered_from_checkpresent_which_takes_no_transfer_lock()
    {
        lab.Clear();
        using (var offset = await lab.Http.PostAsync(
            new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.NodeUuids[0]}/v4/putoffset?key={RecordingNodes.AbsentKey}&clientuuid={RecordingNodes.ClientUuid}"), null, Ct))
        {
            Assert.Equal("""{"offset":0}""", await offset.Content.ReadAsStringAsync(Ct));
        }

        using (var offset = await lab.Http.PostAsync(
            new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.NodeUuids[0]}/v4/putoffset?key={RecordingNodes.Key}&clientuuid={RecordingNodes.ClientUuid}"), null, Ct))
        {
            Assert.Equal("""{"alreadyhave":true,"plusuuids":[]}""", await offset.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(["checkpresent", "checkpresent"], await EndpointsAsync(0, 2));
    }

    private async Task PutOffsetThenPutAsync(string query, int length)
    {
        using (var offset = await lab.Http.PostAsync(new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.ClusterUuid}/v4/putoffset{query}"), null, Ct))
        {
            Assert.Equal("""{"offset":0}""", await offset.Content.ReadAsStringAsync(Ct));
        }

        using var body = new ByteArrayContent(new byte[length]);
        body.Headers.TryAddWithoutValidation("X-git-annex-data-length", length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var answer = await lab.Http.PostAsync(new Uri($"{lab.Edge.Url}/git-annex/{RecordingNodes.ClusterUuid}/v4/put{query}"), body, Ct);
        Assert.Contains("\"stored\":true", await answer.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    private async Task<string[]> EndpointsAsync(int node, int atLeast) =>
        (await lab.ReceivedAsync(node, atLeast)).Select(r => r.Split('?')[0].Split('/')[^1]).ToArray();
}
