using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Logging;
using AnnexEdge.Routing;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>A real p2phttp node holding one object, served by the tests next to a replica that refuses connections.</summary>
public sealed class NodeWithObject : IAsyncLifetime
{
    public P2pNode Node { get; private set; } = null!;

    public string Key { get; private set; } = "";

    public byte[] Content { get; } = System.Security.Cryptography.RandomNumberGenerator.GetBytes(3000);

    public async ValueTask InitializeAsync()
    {
        Node = await P2pNode.StartAsync("refusing");
        await File.WriteAllBytesAsync(Path.Combine(Node.RepositoryPath, "object.bin"), Content);
        (await Node.GitAsync("annex", "add", "object.bin")).EnsureSuccess("git annex add");
        var lookup = (await Node.GitAsync("annex", "lookupkey", "object.bin")).EnsureSuccess("git annex lookupkey");
        Key = lookup.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }

    public async ValueTask DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>
/// Two replicas of a repository, one of them a closed port: requests that carry no body are retried on the live
/// replica, so clients never see the refusal, and the edge shows the dead replica out of rotation.
/// </summary>
public sealed class RefusedReplicaTests(NodeWithObject fixture) : IClassFixture<NodeWithObject>
{
    [Theory]
    [InlineData("checkpresent", "Edge")]
    [InlineData("gettimestamp", "Edge")]
    [InlineData("key", "Edge")]
    [InlineData("key", "SocketsHttpHandler")]
    public async Task Bodiless_request_first_sent_to_a_refusing_replica_is_answered_by_the_live_one(string endpoint, string downloadTransport)
    {
        var live = fixture.Node.Url;
        var dead = $"http://127.0.0.1:{FreePort.Next()}";
        // The dead replica is tried first, so the retry is what this test sees.
        var name = Enumerable.Range(0, 100).Select(i => $"refusing{i}")
            .First(n => string.CompareOrdinal(Backend.For(n, dead).Id, Backend.For(n, live).Id) < 0);
        var config = ConfigFor(name, [live, dead], healthChecks: false);
        config["Repositories"]![0]!["LoadBalancing"] = "FirstAlphabetical";
        config["Forwarding"] = new JsonObject { ["DownloadTransport"] = downloadTransport };
        await using var edge = await EdgeHost.StartAsync(config);
        using var http = FaultEdge.NewClient();

        for (var i = 0; i < 2; i++)
        {
            await AssertAnsweredAsync(http, edge, endpoint);
        }

        await edge.EventAsync(EdgeEventIds.ConnectRetry, e => e.Text("Backend") == Backend.For(name, dead).Id);
        var deadStatus = await FaultEdge.BackendStatusAsync(edge, dead);
        Assert.False((bool)deadStatus["available"]!, deadStatus.ToJsonString());
        Assert.Equal("Unhealthy", (string?)deadStatus["passive"]);
        Assert.True((bool)(await FaultEdge.BackendStatusAsync(edge, live))["available"]!);
    }

    [Fact]
    public async Task Probe_takes_a_refusing_replica_out_of_rotation_before_any_request()
    {
        var live = fixture.Node.Url;
        var dead = $"http://127.0.0.1:{FreePort.Next()}";
        var config = ConfigFor("refusing", [live, dead], healthChecks: true);
        await using var edge = await EdgeHost.StartAsync(config);

        // Probes every second, out after one failure: a few seconds at most.
        await FaultEdge.WaitForAvailabilityAsync(edge, dead, available: false, TimeSpan.FromSeconds(8));

        var deadStatus = await FaultEdge.BackendStatusAsync(edge, dead);
        Assert.Equal("Unhealthy", (string?)deadStatus["active"]);
        var liveStatus = await FaultEdge.BackendStatusAsync(edge, live);
        Assert.True((bool)liveStatus["available"]!, liveStatus.ToJsonString());
        Assert.Equal("Healthy", (string?)liveStatus["active"]);
        using var http = FaultEdge.NewClient();
        await AssertAnsweredAsync(http, edge, "key");

        // A retry would be logged before the request's own event, which therefore proves there was none.
        await edge.RequestEventAsync("GET", $"/v4/key/{fixture.Key}", 200);
        Assert.DoesNotContain(edge.Events.All, e => e.EventId() == EdgeEventIds.ConnectRetry);
    }

    private JsonObject ConfigFor(string name, string[] backends, bool healthChecks) => new()
    {
        ["Repositories"] = new JsonArray(new JsonObject
        {
            ["Name"] = name,
            ["Uuid"] = fixture.Node.Uuid,
            ["Backends"] = new JsonArray(backends.Select(b => (JsonNode)JsonValue.Create(b)!).ToArray()),
        }),
        ["Locking"] = new JsonObject { ["TokenKey"] = EdgeProcess.TestTokenKey },
        ["HealthChecks"] = new JsonObject
        {
            ["Enabled"] = healthChecks,
            ["Interval"] = "00:00:01",
            ["Timeout"] = "00:00:01",
            ["FailureThreshold"] = 1,
            ["ReactivationPeriod"] = "00:01:00",
        },
    };

    private async Task AssertAnsweredAsync(HttpClient http, EdgeHost edge, string endpoint)
    {
        var path = endpoint switch
        {
            "key" => $"/git-annex/{fixture.Node.Uuid}/v4/key/{fixture.Key}?clientuuid={FaultEdge.ClientUuid}",
            "gettimestamp" => $"/git-annex/{fixture.Node.Uuid}/v4/gettimestamp?clientuuid={FaultEdge.ClientUuid}",
            _ => $"/git-annex/{fixture.Node.Uuid}/v4/{endpoint}?key={fixture.Key}&clientuuid={FaultEdge.ClientUuid}",
        };
        using var response = endpoint == "key"
            ? await http.GetAsync(edge.Url + path, TestContext.Current.CancellationToken)
            : await http.PostAsync(edge.Url + path, null, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{endpoint}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}\n{edge.Logs}");
        switch (endpoint)
        {
            case "key":
                Assert.Equal(fixture.Content, body);
                break;
            case "checkpresent":
                Assert.True((bool)JsonNode.Parse(body)!["present"]!);
                break;
            default:
                Assert.True((long)JsonNode.Parse(body)!["timestamp"]! >= 0);
                break;
        }
    }
}
